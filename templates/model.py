"""Form templates as validated data: page, locator, fields (digit boxes, tick boxes) and checks."""

from __future__ import annotations

import ast
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Rect = Annotated[list[float], Field(min_length=4, max_length=4)]  # x, y, w, h in page units


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PageSpec(Strict):
    """Page size in its own unit: mm for forms we design, px for a registered reference scan."""

    width: float = Field(gt=0)
    height: float = Field(gt=0)
    unit: Literal["mm", "px"] = "mm"


class LocatorSpec(Strict):
    """How a photo is registered to this template."""

    kind: Literal["aruco", "corner_marks", "features"]
    # aruco: marker ids clockwise from top-left, their dictionary and the square side (page units)
    aruco_dict: str = "DICT_4X4_50"
    marker_ids: list[int] = Field(default_factory=lambda: [0, 1, 2, 3], min_length=4, max_length=4)
    # aruco / corner_marks: the outer corners of the four marks (x, y), clockwise from top-left
    corners: list[Annotated[list[float], Field(min_length=2, max_length=2)]] = Field(
        default_factory=list
    )
    mark_size: float = Field(default=0, ge=0)
    # features: a reference image (path relative to the template file)
    reference: str | None = None


class TextSpec(Strict):
    """Printed text, for rendering; `role: title` text is also used to identify the form."""

    text: str
    x: float
    y: float
    size: float = Field(default=3.5, gt=0)  # cap height, page units
    bold: bool = False
    align: Literal["left", "center", "right"] = "left"
    role: Literal["plain", "title"] = "plain"


class LineSpec(Strict):
    """A printed rectangle or line, for rendering only."""

    rect: Rect
    width: float = Field(default=0.3, gt=0)
    fill: bool = False
    gray: int = Field(default=0, ge=0, le=255)


class FieldSpec(Strict):
    """A number written in digit boxes, or a tick box."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    kind: Literal["digits", "tick"] = "digits"
    boxes: list[Rect] = Field(min_length=1)
    section: str = ""


class CheckSpec(Strict):
    """An arithmetic rule over field names, e.g. `paslon_1 + paslon_2 == suara_sah`."""

    expr: str
    rule: str = ""  # R1..R7 of domain.md
    message: str = ""  # Bahasa Indonesia, shown to the reviewer

    @field_validator("expr")
    @classmethod
    def _parses(cls, v: str) -> str:
        tree = ast.parse(v, mode="eval").body
        if not isinstance(tree, ast.Compare) or len(tree.ops) != 1:
            raise ValueError(f"check must be one comparison: {v!r}")
        if not isinstance(tree.ops[0], ast.Eq | ast.LtE | ast.GtE | ast.Lt | ast.Gt):
            raise ValueError(f"check must use ==, <=, >=, < or >: {v!r}")
        for node in ast.walk(tree):
            ok = (
                ast.Compare,
                ast.BinOp,
                ast.Add,
                ast.Sub,
                ast.Mult,
                ast.Name,
                ast.Load,
                ast.Constant,
                ast.Eq,
                ast.LtE,
                ast.GtE,
                ast.Lt,
                ast.Gt,
                ast.UnaryOp,
                ast.USub,
            )
            if not isinstance(node, ok):
                raise ValueError(f"check uses a construct not allowed: {type(node).__name__}")
            if isinstance(node, ast.Constant) and not isinstance(node.value, int | float):
                raise ValueError(f"check constants must be numbers: {v!r}")
        return v

    @property
    def names(self) -> list[str]:
        tree = ast.parse(self.expr, mode="eval")
        return sorted({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)})


class Template(Strict):
    """One printable, readable form."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    title: str
    race: str | None = None  # e.g. gubernur, walikota; None for the blanko (both races)
    page: PageSpec
    locator: LocatorSpec
    qr: Rect | None = None  # where the QR code is printed
    max_value: int = Field(default=999, ge=0)
    fields: list[FieldSpec] = Field(min_length=1)
    checks: list[CheckSpec] = Field(default_factory=list)
    texts: list[TextSpec] = Field(default_factory=list)
    lines: list[LineSpec] = Field(default_factory=list)
    credit: str = ""

    @model_validator(mode="after")
    def _consistent(self) -> Template:
        names = [f.name for f in self.fields]
        dupes = {n for n in names if names.count(n) > 1}
        if dupes:
            raise ValueError(f"duplicate field names: {sorted(dupes)}")
        known = set(names)
        for check in self.checks:
            missing = [n for n in check.names if n not in known]
            if missing:
                raise ValueError(f"check {check.expr!r} names unknown fields {missing}")
        for f in self.fields:
            for x, y, w, h in f.boxes:
                if w <= 0 or h <= 0 or x < 0 or y < 0:
                    raise ValueError(f"field {f.name}: box with no area or off the page")
                if x + w > self.page.width or y + h > self.page.height:
                    raise ValueError(f"field {f.name}: box runs off the page")
        if self.locator.kind in ("aruco", "corner_marks") and len(self.locator.corners) != 4:
            raise ValueError(f"locator {self.locator.kind} needs four corners")
        if self.locator.kind == "features" and not self.locator.reference:
            raise ValueError("locator features needs a reference image")
        return self

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def digit_fields(self) -> list[FieldSpec]:
        return [f for f in self.fields if f.kind == "digits"]
