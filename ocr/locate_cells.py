"""Number boxes found by the table's ruled cells where a print differs from its reference: the
same rows of boxes in the same order, at other heights (Bengkulu 2015: taller candidate rows).
Used only when no homography lays the print around the boxes on the reference."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import cv2
import numpy as np

from sipantau.ocr.types import GrayImage

Rect = tuple[int, int, int, int]  # x, y, w, h in reference px
FloatRect = tuple[float, float, float, float]

LINE_OF_BOX = 0.6  # a ruling line runs at least this share of the smallest box side
MIN_FILL = 0.7  # a cell's own pixels over its bounding rectangle (handwriting lines stay inside)
BOX_IN_CELL = 0.5  # a reference box's area over its cell's: the box map marks that cell
GAP_PX = 8  # neighbouring cells of one row: at most this far apart (a ruling line between)
SAME_ROW = 0.7  # and overlapping by this share of the lower one's height
WIDTH_RANGE = (0.7, 1.4)  # a photo row's width / its reference row's (the print's scale)
HEIGHT_RANGE = (0.5, 2.5)  # rows may be much taller or lower on another print
WORK_WIDTH = 1240  # px: a larger reference scan is worked at this width (the canonical page's)
CENTRE_OF_PAGE = 0.08  # a row's centre may move this share of the page width sideways
SEPARATOR = 0.04  # of the row's width: where each line between its boxes must be


def ruled_cells(gray: GrayImage, line_px: int) -> list[Rect]:
    """Rectangles enclosed by printed ruling lines. Only straight runs of `line_px` or more are
    lines, so digits, X marks and signatures inside a cell leave it whole (a stroke that touches
    two opposite lines of its cell splits it: that row is then not found)."""
    ink = cv2.adaptiveThreshold(
        gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 12
    )
    k = max(9, line_px)
    hor = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (k, 1)))
    ver = cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, k)))
    # gaps closed along each line only: a stroke near a line does not join it
    lines = cv2.dilate(hor, np.ones((1, 3), np.uint8)) | cv2.dilate(ver, np.ones((3, 1), np.uint8))
    n, _, stats, _ = cv2.connectedComponentsWithStats(255 - lines, connectivity=4)
    small = k / 3
    return [
        (int(x), int(y), int(w), int(h))
        for x, y, w, h, area in stats[1:n]
        if w >= small and h >= small and area >= MIN_FILL * w * h and x > 0 and y > 0
    ]


def _neighbours(a: Rect, b: Rect) -> bool:
    """`b` is the next cell to the right of `a` on the same row."""
    gap = b[0] - (a[0] + a[2])
    overlap = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return -2 <= gap <= GAP_PX and overlap >= SAME_ROW * min(a[3], b[3])


def cell_runs(cells: list[Rect], max_w: float) -> list[tuple[Rect, ...]]:
    """Maximal runs of neighbouring cells no wider than `max_w`, left to right: a row of number
    boxes is one, even where a stroke from line to line split one of its cells in two."""
    by_x = sorted(c for c in cells if c[2] <= max_w)
    nxt: dict[Rect, Rect] = {}
    taken: set[Rect] = set()
    for i, a in enumerate(by_x):
        for b in by_x[i + 1 :]:
            if b[0] > a[0] + a[2] + GAP_PX:
                break
            if b not in taken and _neighbours(a, b):
                nxt[a] = b
                taken.add(b)
                break
    runs = []
    for c in by_x:
        if c in taken:
            continue
        run = [c]
        while run[-1] in nxt:
            run.append(nxt[run[-1]])
        runs.append(tuple(run))
    return runs


@dataclass(frozen=True)
class Span:
    """A run of cells as one row: its outline, and where the lines between its cells are."""

    x: float
    y: float
    w: float
    h: float
    cuts: tuple[float, ...]  # each inner line's x over the row's width
    cells: tuple[Rect, ...]

    @classmethod
    def of(cls, run: tuple[Rect, ...]) -> Span:
        x0, x1 = run[0][0], run[-1][0] + run[-1][2]
        y0 = float(np.median([c[1] for c in run]))
        y1 = float(np.median([c[1] + c[3] for c in run]))
        w = float(x1 - x0)
        return cls(x0, y0, w, y1 - y0, tuple((c[0] - x0) / w for c in run[1:]), run)

    @property
    def centre_x(self) -> float:
        return self.x + self.w / 2


@dataclass(frozen=True)
class FieldRow:
    """One field's boxes in the reference, each relative to its row (x, y over its w, h) and to
    its own cell (the row's `cell`-th)."""

    field: str
    within: tuple[FloatRect, ...]
    cell: tuple[int, ...]
    in_cell: tuple[FloatRect, ...]

    def on(self, span: Span, cells: int) -> list[FloatRect]:
        """The boxes on `span`: in their own cells where the row has as many as the reference's
        (another print may space its lines otherwise), else by their place along the row."""
        if len(span.cells) == cells:
            return [
                (c[0] + rx * c[2], c[1] + ry * c[3], rw * c[2], rh * c[3])
                for c, (rx, ry, rw, rh) in zip(
                    (span.cells[i] for i in self.cell), self.in_cell, strict=True
                )
            ]
        return [
            (span.x + rx * span.w, span.y + ry * span.h, rw * span.w, rh * span.h)
            for rx, ry, rw, rh in self.within
        ]


@dataclass(frozen=True)
class Column:
    """Rows like one field's row of cells at one place across the reference table, top to bottom,
    and the fields among them by their index there."""

    row: Span  # the first field's row, as the pattern
    max_cell_w: float
    rows: int  # such rows in the reference
    fields: tuple[tuple[int, FieldRow], ...]

    def like(self, span: Span, page_w: float) -> bool:
        """`span` could be one of this column's rows on another print of the form: about as wide,
        at about the same place, with a line wherever the reference's row has one."""
        r = self.row
        return (
            WIDTH_RANGE[0] <= span.w / r.w <= WIDTH_RANGE[1]
            and HEIGHT_RANGE[0] <= span.h / r.h <= HEIGHT_RANGE[1]
            and abs(span.centre_x - r.centre_x) <= CENTRE_OF_PAGE * page_w
            and all(any(abs(c - want) <= SEPARATOR for c in span.cuts) for want in r.cuts)
        )

    def spans(self, cells: list[Rect], page_w: float) -> list[Span]:
        found = [Span.of(run) for run in cell_runs(cells, self.max_cell_w)]
        return sorted((s for s in found if self.like(s, page_w)), key=lambda s: s.y)


def _cell_of(box: FloatRect, cells: list[Rect]) -> Rect | None:
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    for c in cells:
        if c[0] <= cx <= c[0] + c[2] and c[1] <= cy <= c[1] + c[3]:
            return c if w * h >= BOX_IN_CELL * c[2] * c[3] else None
    return None


def _within(box: FloatRect, x: float, y: float, w: float, h: float) -> FloatRect:
    return ((box[0] - x) / w, (box[1] - y) / h, box[2] / w, box[3] / h)


@dataclass(frozen=True)
class BoxLayout:
    """The reference's number boxes as rows of ruled cells (None where its boxes are not)."""

    columns: tuple[Column, ...]
    line_px: int
    size: tuple[int, int]  # w, h the reference is worked at (px)
    scale: float  # those px per reference px

    @classmethod
    def build(
        cls,
        reference: GrayImage,
        fields: Sequence[tuple[str, Sequence[Sequence[float]]]],
        max_width: int = WORK_WIDTH,
    ) -> BoxLayout | None:
        """The layout, or None when some field's boxes are not one whole row of ruled cells, or
        when two of its rows are alike but not in one column (no order to go by). A large scan
        is worked at `max_width`."""
        k = min(1.0, max_width / reference.shape[1])
        size = (round(reference.shape[1] * k), round(reference.shape[0] * k))
        if k < 1.0:
            reference = cv2.resize(reference, size, interpolation=cv2.INTER_AREA)
        sides = [k * min(b[2], b[3]) for _, boxes in fields for b in boxes]
        if not sides:
            return None
        line_px = int(LINE_OF_BOX * min(sides))
        cells = ruled_cells(reference, line_px)
        page_w = float(size[0])
        columns: list[Column] = []
        rows: list[list[Span]] = []  # each column's rows in the reference, top to bottom
        for name, given in fields:
            boxes = [(k * x, k * y, k * w, k * h) for x, y, w, h in given]
            mine = [_cell_of(b, cells) for b in boxes]
            if any(c is None for c in mine) or len(set(mine)) != len(boxes):
                return None
            run = tuple(sorted(c for c in mine if c is not None))
            if any(not _neighbours(a, b) for a, b in zip(run, run[1:], strict=False)):
                return None
            row = Span.of(run)
            fr = FieldRow(
                name,
                tuple(_within(b, row.x, row.y, row.w, row.h) for b in boxes),
                tuple(run.index(c) for c in mine if c is not None),
                tuple(_within(b, *c) for b, c in zip(boxes, mine, strict=True) if c is not None),
            )
            j = next((j for j, c in enumerate(columns) if c.like(row, page_w)), None)
            if j is None:
                col = Column(row, max(c[2] for c in run) * WIDTH_RANGE[1] * 1.1, 0, ())
                rows.append(col.spans(cells, page_w))
                columns.append(replace(col, rows=len(rows[-1])))
                j = len(columns) - 1
            at = [i for i, s in enumerate(rows[j]) if abs(s.y - row.y) < 2]
            if len(at) != 1:
                return None
            columns[j] = replace(columns[j], fields=(*columns[j].fields, (at[0], fr)))
        return cls(tuple(columns), line_px, size, k)

    def find(self, warped: GrayImage) -> dict[str, list[FloatRect]] | None:
        """Each field's boxes (reference px) on `warped`, the photo roughly on the reference at
        any scale: the same column of rows, the same count of them, each field in its place by
        order. None when the photo's table does not have exactly the reference's rows."""
        if warped.shape[1] != self.size[0] or warped.shape[0] != self.size[1]:
            warped = cv2.resize(warped, self.size, interpolation=cv2.INTER_AREA)
        cells = ruled_cells(warped, self.line_px)
        k = self.scale
        found: dict[str, list[FloatRect]] = {}
        for col in self.columns:
            spans = col.spans(cells, float(self.size[0]))
            if len(spans) != col.rows:
                return None
            for i, fr in col.fields:
                boxes = fr.on(spans[i], len(col.row.cells))
                found[fr.field] = [(x / k, y / k, w / k, h / k) for x, y, w, h in boxes]
        return found
