"""A form's values in the service's terms: which fields give each race's numbers, and the
rules they must meet, the template's own (R1-R7) plus what only the desk knows (DPT per TPS)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sipantau.ocr.checks import run_checks
from sipantau.templates.model import Template

ALL_RACES = "semua"


@dataclass(frozen=True)
class RaceFields:
    """Field names on one template that carry one race's numbers."""

    race: str
    paslon: tuple[str, ...]
    suara_sah: str
    suara_tidak_sah: str
    total: str
    pemilih: str
    dpt: str | None = None


def race_fields(template: Template, race: str, short: str, n_paslon: int) -> RaceFields | None:
    """Where `race` is on `template`: the blanko prefixes fields with the race's short name."""
    names = {f.name for f in template.fields}
    if template.race is None:  # the desk's blanko: every race, prefixed
        p = f"{short}_"
        rf = RaceFields(
            race,
            tuple(f"{p}paslon_{i}" for i in range(1, n_paslon + 1)),
            f"{p}suara_sah",
            f"{p}suara_tidak_sah",
            f"{p}total_suara",
            f"{p}pemilih",
        )
    elif template.race == race:
        rf = RaceFields(
            race,
            tuple(f"paslon_{i}" for i in range(1, n_paslon + 1)),
            "suara_sah",
            "suara_tidak_sah",
            "jumlah_suara",
            "pengguna_jml",
            "dpt_jml",
        )
    else:
        return None
    wanted = [*rf.paslon, rf.suara_sah, rf.suara_tidak_sah, rf.total, rf.pemilih]
    return rf if all(n in names for n in wanted) else None


def problems(
    template: Template,
    values: Mapping[str, int | None],
    dpt: int,
    fields: Sequence[RaceFields],
) -> list[str]:
    """Every rule these values break, in Bahasa Indonesia; empty means the form is consistent."""
    out = []
    for f in template.fields:
        if f.kind == "digits" and values.get(f.name) is None:
            out.append(f"kolom {f.name} belum terbaca")
    for result in run_checks(template.checks, values):
        if result.ok is False:
            out.append(f"{result.message} ({result.expr})")
    cap = dpt + (dpt * 25 + 999) // 1000  # ballots delivered: DPT + 2.5 % reserve, rounded up
    for rf in fields:
        for name in (rf.pemilih, rf.total):
            v = values.get(name)
            if v is not None and v > cap:
                out.append(
                    f"R7: {name} = {v} melebihi DPT TPS ini + 2,5% ({cap}); periksa angka ratusan"
                )
        if rf.dpt is not None:
            v = values.get(rf.dpt)
            if v is not None and v != dpt:
                out.append(f"DPT pada formulir ({v}) berbeda dengan data DPT TPS ini ({dpt})")
    return list(dict.fromkeys(out))
