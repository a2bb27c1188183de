"""KPU's Model C.HASIL-KWK 2024, one page per race, laid out as Templates (C.HASIL-PPWP family).

Four L-shaped corner marks, the QR code top right under the "MODEL C.HASIL-KWK" box, the
header fields, and sections I-IV as boxed tables with three digit boxes a number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sipantau.templates.election import Election, Race
from sipantau.templates.model import (
    CheckSpec,
    FieldSpec,
    LineSpec,
    LocatorSpec,
    PageSpec,
    Template,
    TextSpec,
)

PAGE_W, PAGE_H = 210.0, 297.0
MARGIN, MARK = 7.0, 9.0  # corner marks: outer corner inset, arm length (mm)
LEFT, RIGHT = 18.0, 192.0  # table edges, clear of the marks
TOP, BOTTOM = 53.0, 279.0  # where the sections may go
NO_W, COL_W = 8.0, 36.0  # number column, one three-box column
SEC_T, HEAD_H, GAP = 5.5, 5.5, 2.0
BOX_GAP = 1.0
ROWS_I = [  # Section I: (name, label)
    ("dpt", "Jumlah pemilih dalam Daftar Pemilih Tetap (DPT)"),
    ("pemilih_dpt", "Jumlah pemilih dalam DPT yang menggunakan hak pilih"),
    ("dptb", "Jumlah pemilih pindahan (DPTb) yang menggunakan hak pilih"),
    ("dpk", "Jumlah pemilih tambahan (DPK) yang menggunakan hak pilih"),
    ("pengguna", "Jumlah seluruh pengguna hak pilih (I.2 + I.3 + I.4)"),
]
ROWS_II = [
    ("ss_diterima", "Jumlah surat suara yang diterima, termasuk surat suara cadangan 2,5%"),
    ("ss_digunakan", "Jumlah surat suara yang digunakan"),
    ("ss_rusak", "Jumlah surat suara yang dikembalikan oleh pemilih karena rusak/keliru coblos"),
    ("ss_sisa", "Jumlah surat suara yang tidak digunakan/tidak terpakai"),
]
ROWS_IV = [
    ("suara_sah", "Jumlah seluruh suara sah (jumlah III)"),
    ("suara_tidak_sah", "Jumlah suara tidak sah"),
    ("jumlah_suara", "Jumlah seluruh suara sah dan suara tidak sah (IV.A + IV.B)"),
]
SEX = [("l", "Laki-laki (L)"), ("p", "Perempuan (P)"), ("jml", "Jumlah (L + P)")]


def template_id(race: Race) -> str:
    return f"c-hasil-kwk-{race.id}"


def _wrap(text: str, width: int) -> list[str]:
    lines, cur = [], ""
    for word in text.split():
        if cur and len(cur) + 1 + len(word) > width:
            lines.append(cur)
            cur = word
        else:
            cur = f"{cur} {word}".strip()
    return lines + [cur]


@dataclass
class _Sheet:
    """Accumulates a page's texts, lines and fields while a cursor walks down the tables."""

    row_h: float
    box: float
    y: float = TOP
    fields: list[FieldSpec] = field(default_factory=list)
    texts: list[TextSpec] = field(default_factory=list)
    lines: list[LineSpec] = field(default_factory=list)

    def text(self, s: str, x: float, y: float, size: float = 2.1, **kw: Any) -> None:
        self.texts.append(TextSpec(text=s, x=round(x, 2), y=round(y, 2), size=size, **kw))

    def cell(self, x: float, w: float, h: float, width: float = 0.25, gray: int = 0) -> None:
        self.lines.append(
            LineSpec(
                rect=[round(x, 2), round(self.y, 2), round(w, 2), round(h, 2)],
                width=width,
                gray=gray,
            )
        )

    def title(self, s: str) -> None:
        self.text(s, LEFT, self.y + 4.0, size=2.6, bold=True)
        self.y += SEC_T

    def header(self, cols: list[tuple[float, float, str]]) -> None:
        """A header row: (x, w, label) cells on a light band."""
        self.lines.append(LineSpec(rect=[LEFT, self.y, RIGHT - LEFT, HEAD_H], fill=True, gray=228))
        for x, w, label in cols:
            self.cell(x, w, HEAD_H, width=0.3)
            self.text(label, x + w / 2, self.y + 3.8, size=1.7, bold=True, align="center")
        self.y += HEAD_H

    def label(self, no: str, s: str, x: float, w: float, size: float = 2.0) -> None:
        self.cell(LEFT, NO_W, self.row_h)
        self.cell(x, w, self.row_h)
        self.text(
            no, LEFT + NO_W / 2, self.y + self.row_h / 2 + 1.1, size=2.2, bold=True, align="center"
        )
        rows = _wrap(s, int(w / (0.83 * size)) - 1)
        y0 = self.y + self.row_h / 2 + 1.0 - (len(rows) - 1) * size * 0.75
        for i, row in enumerate(rows):
            self.text(row, x + 2.0, y0 + i * size * 1.5, size=size)

    def digits(self, name: str, label: str, section: str, x: float) -> None:
        """Three boxes (hundreds, tens, units) centred in the column that starts at `x`."""
        self.cell(x, COL_W, self.row_h)
        span = 3 * self.box + 2 * BOX_GAP
        bx, by = x + (COL_W - span) / 2, self.y + (self.row_h - self.box) / 2
        boxes = [
            [round(bx + i * (self.box + BOX_GAP), 2), round(by, 2), self.box, self.box]
            for i in range(3)
        ]
        self.fields.append(FieldSpec(name=name, label=label, section=section, boxes=boxes))

    def table(self, rows: list[tuple[str, str, str]], section: str, numbers: str) -> None:
        """Rows of one number each: (name, label, field label), numbered by `numbers`."""
        x = LEFT + NO_W
        for i, (name, label, flabel) in enumerate(rows):
            self.label(numbers[i] + ".", label, x, RIGHT - COL_W - x)
            self.digits(name, flabel, section, RIGHT - COL_W)
            self.y += self.row_h
        self.lines.append(
            LineSpec(
                rect=[LEFT, self.y - len(rows) * self.row_h, RIGHT - LEFT, len(rows) * self.row_h],
                width=0.45,
            )
        )
        self.y += GAP


def _section_i(sh: _Sheet) -> None:
    sh.title("I.   DATA PEMILIH DAN PENGGUNA HAK PILIH")
    x_cols = [RIGHT - (3 - i) * COL_W for i in range(3)]
    top = sh.y
    sh.header(
        [(LEFT, NO_W, "NO"), (LEFT + NO_W, x_cols[0] - LEFT - NO_W, "URAIAN")]
        + [(x, COL_W, lab.upper()) for x, (_, lab) in zip(x_cols, SEX, strict=True)]
    )
    for i, (name, label) in enumerate(ROWS_I):
        sh.label(f"{i + 1}.", label, LEFT + NO_W, x_cols[0] - LEFT - NO_W)
        for x, (suffix, sex) in zip(x_cols, SEX, strict=True):
            sh.digits(f"{name}_{suffix}", f"{label}: {sex}", "I. Data pemilih", x)
        sh.y += sh.row_h
    sh.lines.append(LineSpec(rect=[LEFT, top, RIGHT - LEFT, sh.y - top], width=0.45))
    sh.y += GAP


def _section_iii(sh: _Sheet, race: Race) -> None:
    sh.title("III.  DATA PEROLEHAN SUARA PASANGAN CALON")
    x = LEFT + NO_W
    sh.header(
        [
            (LEFT, NO_W, "NO"),
            (x, RIGHT - COL_W - x, "NAMA PASANGAN CALON"),
            (RIGHT - COL_W, COL_W, "JUMLAH SUARA SAH"),
        ]
    )
    rows = [
        (f"paslon_{i + 1}", p.upper(), f"Suara sah paslon {i + 1} ({p})")
        for i, p in enumerate(race.paslon)
    ]
    sh.table(rows, "III. Perolehan suara", "".join(str(i + 1) for i in range(len(rows))))


def _header(race: Race, election: Election, title: str) -> tuple[list[TextSpec], list[LineSpec]]:
    t = [
        TextSpec(text=title, x=LEFT + 6, y=14.0, size=4.2, bold=True, role="title"),
        TextSpec(text=race.name.upper(), x=LEFT + 6, y=20.0, size=2.3, bold=True),
        TextSpec(text=f"{election.name.upper()} - {election.date}", x=LEFT + 6, y=24.5, size=2.0),
        TextSpec(text="MODEL", x=170.0, y=14.2, size=2.2, bold=True, align="center"),
        TextSpec(text="C.HASIL-KWK", x=170.0, y=18.6, size=2.2, bold=True, align="center"),
        TextSpec(text=race.id.upper(), x=170.0, y=25.2, size=2.0, bold=True, align="center"),
        TextSpec(text="*) Coret yang tidak perlu", x=RIGHT, y=286.0, size=1.8, align="right"),
        TextSpec(
            text=f"{template_id(race).upper()} | Halaman 1 dari 1", x=LEFT + 2, y=286.0, size=1.6
        ),
    ]
    rows = [
        ("Provinsi", "Kecamatan"),
        ("Kabupaten / Kota", "Kelurahan / Desa *)"),
        ("", "Nomor TPS"),
    ]
    for i, pair in enumerate(rows):
        for j, label in enumerate(pair):
            if label:
                x, y = LEFT + j * 72.0, 36.0 + i * 5.5
                t.append(TextSpec(text=label, x=x, y=y, size=2.0, bold=True))
                t.append(TextSpec(text=": " + "." * 34, x=x + 26.0, y=y, size=2.0))
    return t, [LineSpec(rect=[153.0, 10.0, 34.0, 10.5], width=0.4)]


def _checks(n_paslon: int) -> list[CheckSpec]:
    r1 = [
        CheckSpec(
            expr=f"{n}_l + {n}_p == {n}_jml",
            rule="R1",
            message=f"R1: L + P tidak sama dengan jumlah pada baris {lab}",
        )
        for n, lab in ROWS_I
    ]
    r2 = [
        CheckSpec(
            expr=f"pemilih_dpt_{s} + dptb_{s} + dpk_{s} == pengguna_{s}",
            rule="R2",
            message=f"R2: pengguna hak pilih ({s.upper()}) tidak sama dengan "
            "pemilih DPT + DPTb + DPK",
        )
        for s, _ in SEX
    ]
    r2.append(
        CheckSpec(
            expr="pemilih_dpt_jml <= dpt_jml",
            rule="R2",
            message="R2: pemilih DPT yang memilih melebihi jumlah DPT",
        )
    )
    votes = " + ".join(f"paslon_{i + 1}" for i in range(n_paslon))
    return (
        r1
        + r2
        + [
            CheckSpec(
                expr="ss_digunakan + ss_rusak + ss_sisa == ss_diterima",
                rule="R3",
                message="R3: surat suara diterima tidak sama dengan digunakan + rusak + sisa",
            ),
            CheckSpec(
                expr="ss_digunakan == pengguna_jml",
                rule="R4",
                message="R4: surat suara digunakan tidak sama dengan jumlah pengguna hak pilih",
            ),
            CheckSpec(
                expr=f"{votes} == suara_sah",
                rule="R5",
                message="R5: jumlah suara paslon tidak sama dengan suara sah",
            ),
            CheckSpec(
                expr="suara_sah + suara_tidak_sah == jumlah_suara",
                rule="R6",
                message="R6: suara sah + tidak sah tidak sama dengan jumlah suara",
            ),
            CheckSpec(
                expr="jumlah_suara == pengguna_jml",
                rule="R6",
                message="R6: jumlah suara tidak sama dengan jumlah pengguna hak pilih",
            ),
            CheckSpec(
                expr="pengguna_jml <= dpt_jml * 1.025",
                rule="R7",
                message="R7: jumlah pengguna hak pilih melebihi DPT + 2,5%",
            ),
            CheckSpec(
                expr="jumlah_suara <= dpt_jml * 1.025",
                rule="R7",
                message="R7: jumlah suara melebihi DPT + 2,5%",
            ),
        ]
    )


def _sheet(n_paslon: int) -> _Sheet:
    """Row height and box side so that every section fits between TOP and BOTTOM."""
    n_rows = len(ROWS_I) + len(ROWS_II) + n_paslon + len(ROWS_IV)
    fixed = 4 * SEC_T + 2 * HEAD_H + 4 * GAP
    row_h = min(13.0, round((BOTTOM - TOP - fixed) / n_rows, 2))
    box = min(11.0, round(row_h - 2.0, 2))
    if box < 7.0:
        raise ValueError(f"{n_paslon} paslon do not fit on one C.HASIL-KWK page")
    return _Sheet(row_h=row_h, box=box)


def build_kwk(election: Election, race: Race) -> Template:
    """The C.HASIL-KWK page for one race of `election`."""
    title = f"MODEL C.HASIL-KWK {race.id.upper()}"
    sh = _sheet(len(race.paslon))
    _section_i(sh)
    sh.title("II.  DATA PENGGUNAAN SURAT SUARA")
    sh.table([(n, lab, lab) for n, lab in ROWS_II], "II. Surat suara", "1234")
    _section_iii(sh, race)
    sh.title("IV.  JUMLAH SUARA SAH DAN SUARA TIDAK SAH")
    sh.table([(n, lab, lab) for n, lab in ROWS_IV], "IV. Suara sah dan tidak sah", "ABC")
    texts, lines = _header(race, election, title)
    m, far_x, far_y = MARGIN, PAGE_W - MARGIN, PAGE_H - MARGIN
    return Template(
        id=template_id(race),
        title=title,
        race=race.id,
        page=PageSpec(width=PAGE_W, height=PAGE_H, unit="mm"),
        locator=LocatorSpec(
            kind="corner_marks",
            corners=[[m, m], [far_x, m], [far_x, far_y], [m, far_y]],
            mark_size=MARK,
        ),
        qr=[158.0, 27.0, 24.0, 24.0],
        fields=sh.fields,
        checks=_checks(len(race.paslon)),
        texts=texts + sh.texts,
        lines=lines + sh.lines,
    )


def build_all(election: Election) -> list[Template]:
    """One C.HASIL-KWK template per race."""
    return [build_kwk(election, race) for race in election.races]


def write_all(election: Election, directory: Path) -> list[Path]:
    """Save every race's template as YAML in `directory` (the runtime source of truth)."""
    from sipantau.templates.registry import save_template

    return [save_template(t, directory) for t in build_all(election)]
