"""Election configuration files: the election (YAML) and its region tree (CSV), parsed and checked.

Pure parsing, no database. Every problem in both files is collected before failing, each with
its file and line, so the admin fixes an upload in one round instead of one error at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from sipantau.api.domain import csvread
from sipantau.api.domain.csvread import Problem
from sipantau.errors import SipantauError
from sipantau.templates.election import DEMO_ELECTION, Election

DEMO_REGIONS = DEMO_ELECTION.with_name("election-demo-tps.csv")
HEADER = tuple("kecamatan_code,kecamatan,kelurahan_code,kelurahan,tps,dpt,special,name".split(","))
MAX_BYTES = 5_000_000  # the admin upload's limit too
MAX_ROWS = 100_000
MAX_DPT = 1000  # Pilkada 2024 allows 600 a TPS; more than this is a typo, not a big TPS
MAX_PROBLEMS = 500  # reported; the rest are counted
Source = bytes | str | Path  # a Path is read; bytes are a file's content; a str is its text
T = TypeVar("T")
_FROZEN = ConfigDict(extra="forbid", frozen=True)


class ElectionError(SipantauError):
    """The election files cannot be used; `problems` lists everything found, in file order."""

    code = "invalid_election"

    def __init__(
        self, message: str, *, problems: list[Problem], code: str = "invalid_election"
    ) -> None:
        super().__init__(message, detail="; ".join(str(p) for p in problems[:20]))
        self.code = code
        self.problems = problems


class Kecamatan(BaseModel):
    model_config = _FROZEN
    code: str = Field(pattern=r"^\d{6}$")
    name: str = Field(min_length=1, max_length=200)


class Kelurahan(BaseModel):
    model_config = _FROZEN
    code: str = Field(pattern=r"^\d{10}$")
    name: str = Field(min_length=1, max_length=200)
    kecamatan_code: str = Field(pattern=r"^\d{6}$")


class Tps(BaseModel):
    model_config = _FROZEN
    code: str = Field(pattern=r"^\d{10}-\d{3}$")
    number: int = Field(ge=1, le=999)
    name: str = Field(min_length=1, max_length=200)
    dpt: int = Field(ge=0, le=MAX_DPT)
    special: bool = False
    kelurahan_code: str = Field(pattern=r"^\d{10}$")
    kecamatan_code: str = Field(pattern=r"^\d{6}$")


class Regions(BaseModel):
    """The region tree in file order, with lookups by code."""

    model_config = _FROZEN
    kecamatan: list[Kecamatan]
    kelurahan: list[Kelurahan]
    tps: list[Tps]

    @cached_property
    def kecamatan_by_code(self) -> dict[str, Kecamatan]:
        return {k.code: k for k in self.kecamatan}

    @cached_property
    def kelurahan_by_code(self) -> dict[str, Kelurahan]:
        return {k.code: k for k in self.kelurahan}

    @cached_property
    def tps_by_code(self) -> dict[str, Tps]:
        return {t.code: t for t in self.tps}

    def tps_in(self, kelurahan_code: str) -> list[Tps]:
        return [t for t in self.tps if t.kelurahan_code == kelurahan_code]


def tps_code(kelurahan_code: str, number: int) -> str:
    """`1673011001-004`: the kelurahan code and the TPS number within it, three digits."""
    return f"{kelurahan_code}-{number:03d}"


class ElectionConfig(BaseModel):
    """An election and its region tree, both checked."""

    model_config = _FROZEN
    election: Election
    regions: Regions

    @staticmethod
    def tps_code(kelurahan_code: str, number: int) -> str:
        return tps_code(kelurahan_code, number)

    def summary(self) -> dict[str, int]:
        tps = self.regions.tps
        return {
            "races": len(self.election.races),
            "kecamatan": len(self.regions.kecamatan),
            "kelurahan": len(self.regions.kelurahan),
            "tps": len(tps),
            "tps_special": sum(t.special for t in tps),
            "dpt": sum(t.dpt for t in tps),
        }


def load_election_files(election_yaml: Source, regions_csv: Source) -> ElectionConfig:
    """Both files checked together; ElectionError lists the problems of both."""
    problems: list[Problem] = []
    election = _load(election_yaml, "election.yaml", _parse_election, problems)
    regions = _load(regions_csv, "regions.csv", _parse_regions, problems)
    if election is None or regions is None:
        raise _error(problems)
    return ElectionConfig(election=election, regions=regions)


def load_regions(path_or_text: Source) -> Regions:
    """The region tree CSV alone (a Path, the file's bytes, or its text)."""
    problems: list[Problem] = []
    regions = _load(path_or_text, "regions.csv", _parse_regions, problems)
    if regions is None:
        raise _error(problems)
    return regions


def load_demo() -> ElectionConfig:
    """The demo election of Kota Lubuklinggau shipped with `sipantau.templates`."""
    return load_election_files(DEMO_ELECTION, DEMO_REGIONS)


def _error(problems: list[Problem]) -> ElectionError:
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        more = len(problems) - MAX_PROBLEMS
        shown.append(Problem(file=problems[-1].file, message=f"dan {more} masalah lain"))
    message = f"berkas pemilihan tidak bisa dipakai: {len(problems)} masalah ditemukan"
    return ElectionError(message, problems=shown)


def _load(
    source: Source,
    default_name: str,
    parse: Callable[[str, str, list[Problem]], T | None],
    problems: list[Problem],
) -> T | None:
    """Read and decode `source`, then parse it; problems go to `problems`, None if any."""
    file = source.name if isinstance(source, Path) else default_name
    before = len(problems)
    text = _text(source, file, problems)
    result = parse(text, file, problems) if text is not None else None
    return result if len(problems) == before else None


def _text(source: Source, file: str, problems: list[Problem]) -> str | None:
    def fail(message: str, line: int | None = None) -> None:
        problems.append(Problem(file=file, line=line, message=message))

    if isinstance(source, Path):
        if not source.is_file():
            fail(f"berkas {source} tidak ditemukan")
            return None
        if source.stat().st_size > MAX_BYTES:
            fail("berkas lebih dari 5 MB")
            return None
        try:
            source = source.read_bytes()
        except OSError as exc:
            fail(f"berkas tidak bisa dibaca ({exc.strerror})")
            return None
    if isinstance(source, str):
        source = source.encode("utf-8", "surrogatepass")
    if len(source) > MAX_BYTES:
        fail("berkas lebih dari 5 MB")
        return None
    try:
        text = source.decode("utf-8-sig")  # a BOM, as Excel writes, is fine
    except UnicodeDecodeError as exc:
        line = source[: exc.start].count(b"\n") + 1
        fail("bukan teks UTF-8; simpan ulang berkas dengan pengodean UTF-8", line)
        return None
    if not text.strip():
        fail("berkas kosong")
        return None
    return text


# --- the election (YAML) ---

_PYDANTIC = {
    "missing": "wajib diisi",
    "extra_forbidden": "kunci ini tidak dikenal",
    "string_type": 'harus berupa teks (beri tanda kutip, mis. "2024-11-27")',
    "list_type": "harus berupa daftar",
    "string_pattern_mismatch": "format tidak sesuai (huruf kecil, angka, garis bawah)",
    "too_short": "minimal {min_length} isi",
    "too_long": "maksimal {max_length} isi",
}


def _parse_election(text: str, file: str, problems: list[Problem]) -> Election | None:
    def fail(message: str, line: int | None = None) -> None:
        problems.append(Problem(file=file, line=line, message=message))

    try:
        if any(isinstance(e, yaml.AliasEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader)):
            fail("alias YAML (&nama, *nama) tidak didukung; tulis isinya langsung")
            return None
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        fail(f"YAML tidak bisa dibaca: {exc.problem}", mark.line + 1 if mark else None)
        return None
    except yaml.YAMLError as exc:
        fail(f"YAML tidak bisa dibaca: {exc}")
        return None
    if not isinstance(data, dict):
        fail("isi berkas harus berupa pemetaan dengan kunci name, region, date, races", 1)
        return None
    try:
        election = Election.model_validate(data)
    except ValidationError as exc:
        for e in exc.errors():
            where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in e["loc"])
            known = _PYDANTIC.get(e["type"])
            message = known.format(**e.get("ctx", {})) if known else e["msg"]
            fail(f"{where.lstrip('.')}: {message}", _yaml_line(node, e["loc"]))
        return None
    for key in ("id", "short"):
        seen: set[str] = set()
        for i, race in enumerate(election.races):
            value = getattr(race, key)
            if value in seen:
                fail(
                    f"races[{i}].{key}: '{value}' dipakai dua kali", _yaml_line(node, ("races", i))
                )
            seen.add(value)
    return election


def _yaml_line(node: yaml.Node | None, loc: tuple[int | str, ...]) -> int | None:
    """The line of the deepest node along `loc` that exists (a missing key: its parent)."""
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            found = [v for k, v in node.value if k.value == str(part)]
            node = found[0] if found else node
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part] if part < len(node.value) else node
    return node.start_mark.line + 1 if node is not None else None


# --- the region tree (CSV) ---


def _parse_regions(text: str, file: str, problems: list[Problem]) -> Regions | None:
    records = csvread.rows(text, file, problems, comments=True)
    first = next(records, None)
    if first is None:
        if not problems:
            problems.append(Problem(file=file, message="berkas tidak berisi kepala kolom dan TPS"))
        return None
    tree = _Tree(file, problems)
    if not tree.header(first.line, first.cells):
        return None
    count = 0
    for count, record in enumerate(records, start=1):  # noqa: B007 (count used after)
        if count > MAX_ROWS:
            tree.fail(record.line, f"lebih dari {MAX_ROWS:,} baris TPS".replace(",", "."))
            break
        tree.row(record.line, record.cells)
    if count == 0:
        tree.fail(None, "tidak ada satu pun TPS di bawah kepala kolom")
    return tree.regions()


class _Tree:
    """Builds the region tree row by row, remembering where each code was first seen."""

    def __init__(self, file: str, problems: list[Problem]) -> None:
        self.file, self.problems = file, problems
        self.kecamatan: dict[str, tuple[Kecamatan, int]] = {}
        self.kelurahan: dict[str, tuple[Kelurahan, int]] = {}
        self.tps: dict[str, tuple[Tps, int]] = {}
        self.names: dict[tuple[str, str], tuple[str, int]] = {}  # (parent, name) -> code, line
        self.city: tuple[str, int] | None = None  # the first kecamatan code's city, its line

    def fail(self, line: int | None, message: str) -> None:
        self.problems.append(Problem(file=self.file, line=line, message=message))

    def header(self, line: int, found: list[str]) -> bool:
        if tuple(found) == HEADER:
            return True
        missing = [c for c in HEADER if c not in found]
        extra = [c for c in found if c not in HEADER]
        detail = [f"kolom tidak ada: {', '.join(missing)}"] if missing else []
        detail += [f"kolom tidak dikenal: {', '.join(extra)}"] if extra else []
        detail = detail or ["urutan kolom berbeda"]
        self.fail(line, f"kepala kolom harus persis {','.join(HEADER)} ({'; '.join(detail)})")
        return False

    def row(self, line: int, cells: list[str]) -> None:
        if len(cells) != len(HEADER):
            hint = "; nama yang memuat koma harus diberi tanda kutip" if len(cells) > 8 else ""
            self.fail(line, f"ada {len(cells)} kolom, seharusnya {len(HEADER)}{hint}")
            return None
        kec, kec_name, kel, kel_name, number, dpt, special, name = cells
        before = len(self.problems)
        kec_ok = self._kecamatan(line, kec, kec_name)
        self._kelurahan(line, kel, kel_name, kec if kec_ok else None)
        n = _integer(number, 1, 999)
        if n is None:
            self.fail(line, f"nomor TPS '{number}' harus bilangan bulat 1-999")
        voters = _integer(dpt, 0, MAX_DPT)
        if voters is None:
            self.fail(line, f"DPT '{dpt}' harus bilangan bulat 0-{MAX_DPT}")
        if special not in ("0", "1"):
            self.fail(line, f"kolom special '{special}' harus 0 (TPS biasa) atau 1 (TPS khusus)")
        if len(name) > 200:
            self.fail(line, "nama TPS lebih dari 200 huruf")
        if len(self.problems) > before or n is None or voters is None:
            return None
        code = tps_code(kel, n)
        if code in self.tps:
            self.fail(line, f"TPS {code} sudah ada di baris {self.tps[code][1]}")
            return None
        tps = Tps(
            code=code,
            number=n,
            name=name or f"TPS {n:03d}",
            dpt=voters,
            special=special == "1",
            kelurahan_code=kel,
            kecamatan_code=kec,
        )
        self.tps[code] = (tps, line)

    def _kecamatan(self, line: int, code: str, name: str) -> bool:
        if not (len(code) == 6 and code.isascii() and code.isdigit()):
            self.fail(line, f"kode kecamatan '{code}' harus 6 angka, mis. 167301")
            return False
        if self.city is None:
            self.city = (code[:4], line)
        elif code[:4] != self.city[0]:
            city, where = self.city
            self.fail(line, f"kode kecamatan {code} tidak diawali kode kota {city} (baris {where})")
            return False
        return self._named(line, "kecamatan", code, name, "")

    def _kelurahan(self, line: int, code: str, name: str, kecamatan: str | None) -> bool:
        if not (len(code) == 10 and code.isascii() and code.isdigit()):
            self.fail(line, f"kode kelurahan '{code}' harus 10 angka, mis. 1673011001")
            return False
        if kecamatan is None:
            return False
        if not code.startswith(kecamatan):
            self.fail(line, f"kode kelurahan {code} tidak diawali kode kecamatan {kecamatan}")
            return False
        return self._named(line, "kelurahan", code, name, kecamatan)

    def _named(self, line: int, what: str, code: str, name: str, parent: str) -> bool:
        """One name per code, and one code per name within the same parent."""
        seen: dict[str, Any] = self.kecamatan if what == "kecamatan" else self.kelurahan
        if not name or len(name) > 200:
            self.fail(line, f"nama {what} untuk kode {code} kosong atau lebih dari 200 huruf")
            return False
        if code in seen:
            first, where = seen[code]
            if first.name != name:
                self.fail(
                    line, f"{what} {code} bernama '{name}', padahal di baris {where} '{first.name}'"
                )
            return first.name == name
        other = self.names.get((parent or what, name))
        if other is not None:
            code2, where = other
            self.fail(line, f"nama {what} '{name}' sudah dipakai kode {code2} (baris {where})")
            return False
        if parent:
            seen[code] = (Kelurahan(code=code, name=name, kecamatan_code=parent), line)
        else:
            seen[code] = (Kecamatan(code=code, name=name), line)
        self.names[(parent or what, name)] = (code, line)
        return True

    def regions(self) -> Regions:
        return Regions(
            kecamatan=[k for k, _ in self.kecamatan.values()],
            kelurahan=[k for k, _ in self.kelurahan.values()],
            tps=[t for t, _ in self.tps.values()],
        )


def _integer(text: str, low: int, high: int) -> int | None:
    if not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if low <= value <= high else None
