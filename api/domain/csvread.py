"""One CSV reader for every import (the election's region tree, KPU's official results): the csv
module over the whole decoded text, so a quoted field may hold a comma or a newline, each record
with the line it starts on, and what is wrong as `Problem`s."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict


class Problem(BaseModel):
    """One thing wrong in an uploaded file; `line` is 1-based, None for the whole file."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str = ""
    line: int | None = None
    message: str

    def __str__(self) -> str:
        where = " ".join(p for p in (self.file, f"baris {self.line}" if self.line else "") if p)
        return f"{where}: {self.message}" if where else self.message


@dataclass(frozen=True)
class Row:
    """One CSV record: the line it starts on (1-based) and its cells, stripped."""

    line: int
    cells: list[str]


def rows(text: str, file: str, problems: list[Problem], comments: bool = False) -> Iterator[Row]:
    """Every record of `text` but blank lines (and, with `comments`, lines starting with `#`).
    A record the csv module cannot read is a problem and ends the file: after it, where the
    next record starts is a guess."""
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problems.append(
                Problem(file=file, line=start, message=f"baris CSV tidak bisa dibaca ({exc})")
            )
            return
        line, start = start, reader.line_num + 1
        if len(cells) <= 1 and not "".join(cells).strip():
            continue
        if comments and cells[0].lstrip().startswith("#"):
            continue
        yield Row(line, [c.strip() for c in cells])
