"""The "Laporan Hitung Cepat" as a PDF (reportlab): what the desk sends up to the Pj Wali Kota,
Kesbangpol Provinsi and Kemendagri. Plain data in (`report_data.Report`), bytes out."""

from __future__ import annotations

from datetime import datetime
from io import BytesIO
from typing import Any
from zoneinfo import ZoneInfo

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from sipantau.api.domain.report_data import RaceReport, Report

TITLE = "Laporan Hitung Cepat"
WIB = ZoneInfo("Asia/Jakarta")
NO_DATA = "belum ada data"
GRID = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf3")),
        ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
        ("FONTSIZE", (0, 0), (-1, -1), 8.5),
        ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]
)
_styles = getSampleStyleSheet()
H1, H2, BODY = _styles["Title"], _styles["Heading2"], _styles["BodyText"]
SMALL = ParagraphStyle("small", parent=BODY, fontSize=8, leading=10)


def num(n: int | None) -> str:
    """`12345` -> `"12.345"`."""
    return NO_DATA if n is None else f"{n:,}".replace(",", ".")


def pct(part: int, whole: int) -> str:
    """`(456, 1000)` -> `"45,6 %"`; `"-"` when nothing is counted."""
    return f"{100 * part / whole:.1f} %".replace(".", ",") if whole else "-"


def wib(at: str | datetime | None) -> str:
    """An instant as `"27-11-2024 14:05 WIB"`, the posko screens' format."""
    if at is None:
        return "-"
    when = datetime.fromisoformat(at) if isinstance(at, str) else at
    return when.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")


def _table(rows: list[list[Any]], widths: list[float] | None = None, numbers: bool = True) -> Table:
    """A grid with a header row; `numbers`: every column but the first is right-aligned."""
    t = Table(rows, colWidths=widths, repeatRows=1, hAlign="LEFT", spaceBefore=1.5 * mm)
    t.setStyle(GRID)
    if not numbers:
        t.setStyle(TableStyle([("ALIGN", (0, 0), (-1, -1), "LEFT")]))
    return t


def _totals(r: RaceReport) -> list[Flowable]:
    counted = sum(r.votes)
    rows: list[list[Any]] = [["Paslon", "Suara terverifikasi", "Persen"]]
    has = r.coverage.get("verified", 0) > 0
    for name, v in zip(r.paslon, r.votes, strict=True):
        rows.append([name, num(v) if has else NO_DATA, pct(v, counted)])
    rows += [
        ["Suara sah", num(r.suara_sah) if has else NO_DATA, ""],
        ["Suara tidak sah", num(r.suara_tidak_sah) if has else NO_DATA, ""],
        ["Pengguna hak pilih", num(r.pemilih) if has else NO_DATA, ""],
    ]
    return [_table(rows, [70 * mm, 45 * mm, 30 * mm])]


def _coverage(r: RaceReport) -> Paragraph:
    c = r.coverage
    total, verified = c.get("tps_total", 0), c.get("verified", 0)
    return Paragraph(
        f"Cakupan: <b>{num(verified)} dari {num(total)} TPS terverifikasi</b> "
        f"({pct(verified, total)}); diterima {num(c.get('received', 0))}, sedang diperiksa "
        f"{num(c.get('in_review', 0))}, foto harus diulang {num(c.get('retake', 0))}, "
        f"belum masuk {num(c.get('missing', 0))}.",
        BODY,
    )


def _kecamatan(r: RaceReport) -> Table:
    rows: list[list[Any]] = [["Kecamatan", *r.paslon, "TPS terverifikasi"]]
    for line in r.kecamatan:
        counted = sum(line.votes) if line.votes else 0
        cells = (
            [f"{num(v)} ({pct(v, counted)})" for v in line.votes]
            if line.votes is not None
            else [NO_DATA] * len(r.paslon)
        )
        rows.append([line.name, *cells, f"{num(line.tps_verified)} / {num(line.tps_total)}"])
    return _table(rows)


def _gap(r: RaceReport) -> list[Flowable]:
    if r.gap is None:
        return [Paragraph("Hasil resmi KPU untuk pemilihan ini belum diimpor.", BODY)]
    g = r.gap
    rows: list[list[Any]] = [["Paslon", "KPU", "Hitung cepat", "Selisih"]]
    for name, o, q, d in zip(r.paslon, g["official"], g["quick"], g["diff"], strict=True):
        rows.append([name, num(o), num(q), ("+" if d > 0 else "") + num(d)])
    note = (
        f"Dibandingkan pada {num(g['tps_compared'])} TPS yang terverifikasi dan ada di data KPU "
        f"({num(g['tps_official'])} TPS diimpor {wib(r.gap_imported_at)}); "
        "selisih = hitung cepat dikurangi KPU."
    )
    return [Paragraph(note, BODY), _table(rows, [50 * mm, 35 * mm, 35 * mm, 30 * mm])]


def _race(r: RaceReport) -> list[Flowable]:
    """One race: its heading, coverage and totals kept on one page, then the details."""
    return [
        KeepTogether([Paragraph(r.name, H2), _coverage(r), Spacer(1, 2 * mm), *_totals(r)]),
        Spacer(1, 3 * mm),
        Paragraph("<b>Per kecamatan</b> (suara terverifikasi dan persen di kecamatan itu)", BODY),
        _kecamatan(r),
        Spacer(1, 3 * mm),
        Paragraph("<b>Selisih dengan hasil resmi KPU</b>", BODY),
        *_gap(r),
    ]


def _incidents(report: Report) -> list[Flowable]:
    out: list[Flowable] = [Paragraph("Laporan situasi", H2)]
    if not report.incidents_total:
        return [*out, Paragraph("Belum ada laporan kejadian.", BODY)]
    out.append(Paragraph(f"{num(report.incidents_total)} laporan kejadian.", BODY))
    out.append(_table([["Jenis", "Laporan"], *[[k, num(n)] for k, n in report.incidents_by_kind]]))
    out.append(Spacer(1, 3 * mm))
    out.append(Paragraph(f"<b>{len(report.incidents_latest)} laporan terbaru</b>", BODY))
    rows: list[list[Any]] = [["Waktu", "Kecamatan", "Kelurahan", "TPS", "Jenis", "Catatan"]]
    for i in report.incidents_latest:
        note = Paragraph(str(i.get("note") or "").replace("<", "&lt;")[:300], SMALL)
        cells = [wib(i["at"]), i["kecamatan"], i["kelurahan"], f"{int(i['number']):03d}"]
        rows.append([*(Paragraph(c, SMALL) for c in [*cells, i["label"]]), note])
    widths = [31 * mm, 30 * mm, 28 * mm, 10 * mm, 32 * mm, 49 * mm]
    return [*out, _table(rows, widths, numbers=False)]


def _header(report: Report) -> list[Flowable]:
    return [
        Paragraph(TITLE, H1),
        Paragraph(f"{report.election} &middot; {report.region} &middot; {report.date}", BODY),
        Paragraph(
            f"<b>Data per {wib(report.generated_at)}</b> (verifikasi terakhir yang dihitung: "
            f"{wib(report.last_verified_at)}). Disusun oleh {report.produced_by} dengan sipantau.",
            BODY,
        ),
        Paragraph(
            "RAHASIA. Hitung cepat desk pemantauan, bukan hasil resmi KPU: hanya angka dari "
            "formulir yang sudah terverifikasi yang dijumlahkan.",
            SMALL,
        ),
    ]


def build_pdf(report: Report) -> bytes:
    """The whole report, A4 portrait, page numbers in the footer."""
    buf = BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=TITLE,
        author=report.produced_by,
        subject=f"{report.election} {report.region}",
    )
    story = _header(report)
    for race in report.races:
        story += _race(race)
    story += _incidents(report)

    def footer(canvas: Any, _doc: Any) -> None:
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(
            15 * mm, 8 * mm, f"{TITLE} · data per {wib(report.generated_at)} · RAHASIA"
        )
        canvas.drawRightString(A4[0] - 15 * mm, 8 * mm, f"Halaman {canvas.getPageNumber()}")

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()
