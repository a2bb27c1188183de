"""Which pages each role sees; plain data so it is tested without a browser."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageSpec:
    path: str  # under review_ui/, as st.Page takes it
    title: str
    icon: str
    roles: tuple[str, ...]


PAGES = (
    PageSpec(
        "app_pages/queue.py", "Antrean periksa", ":material/fact_check:", ("reviewer", "admin")
    ),
    PageSpec(
        "app_pages/review.py", "Periksa formulir", ":material/edit_note:", ("reviewer", "admin")
    ),
    PageSpec(
        "app_pages/dashboard.py",
        "Dasbor hasil",
        ":material/bar_chart:",
        ("leadership", "reviewer", "admin"),
    ),
    PageSpec(
        "app_pages/gap.py",
        "Selisih dengan KPU",
        ":material/compare_arrows:",
        ("leadership", "reviewer", "admin"),
    ),
    PageSpec(
        "app_pages/incidents.py",
        "Laporan situasi",
        ":material/report:",
        ("leadership", "reviewer", "admin"),
    ),
    PageSpec(
        "app_pages/history.py",
        "Riwayat formulir",
        ":material/history:",
        ("reviewer", "admin", "leadership"),
    ),
)


def pages_for(role: str) -> list[PageSpec]:
    """The pages `role` may open, in menu order; the first is the landing page."""
    return [p for p in PAGES if role in p.roles]
