"""Lays out the desk's own A4 monitor form (the blanko) for an election, as a Template."""

from __future__ import annotations

from sipantau.templates.election import Election
from sipantau.templates.model import (
    CheckSpec,
    FieldSpec,
    LineSpec,
    LocatorSpec,
    PageSpec,
    Template,
    TextSpec,
)

BLANKO_ID = "sipantau-blanko"
PAGE_W, PAGE_H = 210.0, 297.0
MARK = 14.0  # ArUco marker side, mm
MARGIN = 8.0
BOX_W, BOX_H, BOX_GAP = 10.0, 12.0, 1.5
TICK = 8.0
ROW_H = 17.0
MAX_VOTERS = 615  # at most 600 voters a TPS in Pilkada 2024, plus the 2.5 % reserve (R7)


def digit_boxes(x: float, y: float, n: int = 3) -> list[list[float]]:
    """Three boxes (hundreds, tens, units) from the top-left corner of the first."""
    return [[round(x + i * (BOX_W + BOX_GAP), 2), y, BOX_W, BOX_H] for i in range(n)]


def _race_column(
    race_index: int,
    race_id: str,
    short: str,
    name: str,
    paslon: list[str],
    x0: float,
    y0: float,
) -> tuple[list[FieldSpec], list[CheckSpec], list[TextSpec], list[LineSpec]]:
    col_w = 94.0
    box_x = x0 + col_w - 3 * BOX_W - 2 * BOX_GAP - 3.0
    letter = "AB"[race_index]
    texts = [
        TextSpec(
            text=f"{letter}. PEMILIHAN {race_id.upper()}", x=x0, y=y0 - 2.0, size=3.0, bold=True
        ),
        TextSpec(text=name, x=x0, y=y0 + 3.0, size=2.3),
    ]
    lines: list[LineSpec] = []
    rows: list[tuple[str, str]] = [(f"{short}_pemilih", "Jumlah pemilih yang memilih")]
    rows += [(f"{short}_paslon_{i + 1}", f"Suara {p}") for i, p in enumerate(paslon)]
    rows += [
        (f"{short}_suara_sah", "Jumlah suara sah"),
        (f"{short}_suara_tidak_sah", "Jumlah suara tidak sah"),
        (f"{short}_total_suara", "Jumlah suara sah + tidak sah"),
    ]
    fields: list[FieldSpec] = []
    y = y0 + 8.0
    for number, (fname, label) in enumerate(rows, start=1):
        lines.append(LineSpec(rect=[x0, y - 2.5, col_w, ROW_H], width=0.25, gray=110))
        texts.append(TextSpec(text=f"{number}. {label}", x=x0 + 2.0, y=y + 4.0, size=2.6))
        fields.append(
            FieldSpec(
                name=fname, label=f"{label} ({short})", section=name, boxes=digit_boxes(box_x, y)
            )
        )
        y += ROW_H
    votes = " + ".join(f"{short}_paslon_{i + 1}" for i in range(len(paslon)))
    checks = [
        CheckSpec(
            expr=f"{votes} == {short}_suara_sah",
            rule="R5",
            message="R5: jumlah suara paslon tidak sama dengan suara sah",
        ),
        CheckSpec(
            expr=f"{short}_suara_sah + {short}_suara_tidak_sah == {short}_total_suara",
            rule="R6",
            message="R6: suara sah + tidak sah tidak sama dengan total suara",
        ),
        CheckSpec(
            expr=f"{short}_total_suara == {short}_pemilih",
            rule="R4",
            message="R4: total suara tidak sama dengan jumlah pemilih",
        ),
        CheckSpec(
            expr=f"{short}_pemilih <= {MAX_VOTERS}",
            rule="R7",
            message="R7: jumlah pemilih melebihi 600 pemilih per TPS + 2,5%",
        ),
    ]
    return fields, checks, texts, lines


# One rule for every number, zero included: each box holds a digit or, before the number's
# first digit, an X; no box stays empty. So 7 is X X 7 and zero is X X 0.
RULE = "Tulis satu angka per kotak, rata kanan. Kotak di depan angka diisi X."
RULE_TOP = [
    (RULE, True),
    ("Tidak ada kotak yang kosong: 7 ditulis X X 7, 45 ditulis X 4 5, nol ditulis X X 0.", False),
    ("Contoh isian lengkap ada di halaman 2.", False),
]
HOW_TO = [
    "1. Salin angka dari formulir C.HASIL-KWK yang ditempel di TPS, satu angka per kotak.",
    "2. Kotak di depan angka diisi X, juga untuk nol: 7 = X X 7, 45 = X 4 5, 0 = X X 0.",
    "3. Periksa: jumlah suara semua paslon sama dengan jumlah suara sah.",
    "4. Beri tanda X pada satu kotak situasi di bawah, tulis nama, tanda tangan.",
    "5. Foto seluruh halaman dari atas, keempat kotak hitam di sudut harus terlihat.",
]


def _instructions() -> list[TextSpec]:
    """The filling rule at the top (under the title) and the steps in the space below the
    races: text only, well away from every box, marker and the QR code."""
    top = [
        TextSpec(text=text, x=MARGIN + 2, y=41.0 + 5.2 * i, size=3.0, bold=bold)
        for i, (text, bold) in enumerate(RULE_TOP)
    ]
    steps = [TextSpec(text="CARA MENGISI", x=MARGIN + 2, y=203.0, size=3.6, bold=True)]
    steps += [
        TextSpec(text=line, x=MARGIN + 2, y=210.5 + 6.5 * i, size=3.2)
        for i, line in enumerate(HOW_TO)
    ]
    return top + steps


def build_blanko(election: Election) -> Template:
    """The blanko for `election`: ArUco corners, QR, both races, situation tick boxes.

    DPT is not written on it: the desk knows each TPS's DPT from the election data."""
    c = [
        [MARGIN, MARGIN],
        [PAGE_W - MARGIN, MARGIN],
        [PAGE_W - MARGIN, PAGE_H - MARGIN],
        [MARGIN, PAGE_H - MARGIN],
    ]
    title = "BLANKO PEMANTAUAN TPS"
    texts = [
        TextSpec(
            text=title, x=PAGE_W / 2, y=12.0, size=5.0, bold=True, align="center", role="title"
        ),
        TextSpec(
            text=f"{election.name.upper()} - {election.region.upper()}",
            x=PAGE_W / 2,
            y=20.0,
            size=3.2,
            align="center",
        ),
        *_instructions(),
        TextSpec(text="Situasi di TPS (beri tanda X):", x=MARGIN + 2, y=253.0, size=3.0, bold=True),
        TextSpec(text="Aman / kondusif", x=MARGIN + 14, y=262.0, size=2.8),
        TextSpec(text="Ada kejadian / insiden", x=MARGIN + 74, y=262.0, size=2.8),
        TextSpec(
            text="Nama & tanda tangan pemantau: ..................................",
            x=MARGIN + MARK + 4,
            y=272.0,
            size=2.6,
        ),
    ]
    fields: list[FieldSpec] = []
    checks: list[CheckSpec] = []
    lines: list[LineSpec] = []
    for i, race in enumerate(election.races):
        x0 = MARGIN + i * (PAGE_W - 2 * MARGIN) / 2 + (0 if i == 0 else 3.0)
        f, ch, t, ln = _race_column(i, race.id, race.short, race.name, race.paslon, x0, 64.0)
        fields += f
        checks += ch
        texts += t
        lines += ln
    fields += [
        FieldSpec(
            name="situasi_aman",
            label="Situasi aman",
            kind="tick",
            section="Situasi",
            boxes=[[MARGIN + 3, 257.0, TICK, TICK]],
        ),
        FieldSpec(
            name="situasi_insiden",
            label="Ada insiden",
            kind="tick",
            section="Situasi",
            boxes=[[MARGIN + 63, 257.0, TICK, TICK]],
        ),
    ]
    return Template(
        id=BLANKO_ID,
        title=title,
        page=PageSpec(width=PAGE_W, height=PAGE_H, unit="mm"),
        locator=LocatorSpec(kind="aruco", corners=c, mark_size=MARK),
        qr=[PAGE_W - MARGIN - 31.0, 23.0, 27.0, 27.0],
        fields=fields,
        checks=checks,
        texts=texts,
        lines=lines,
    )
