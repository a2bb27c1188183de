"""A form's values in the service's terms: which fields give each race's numbers, and the
rules they must meet, the template's own (R1-R7) plus what only the desk knows (DPT per TPS)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sipantau.api.domain.wording import check_in_words, label_map
from sipantau.ocr.checks import compile_checks, message_of
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


class Broken(NamedTuple):
    """One broken rule: its short name (R1-R7, DPT, or `kosong`), the message, its fields."""

    rule: str
    message: str
    names: tuple[str, ...]


def broken(
    template: Template,
    values: Mapping[str, int | None],
    dpt: int,
    fields: Sequence[RaceFields],
) -> list[Broken]:
    """Every rule these values break, in Bahasa Indonesia, with the fields it concerns."""
    out: list[Broken] = []
    labels = label_map(template)
    for f in template.fields:
        if f.kind == "digits" and values.get(f.name) is None:
            out.append(Broken("kosong", f"kolom {labels[f.name]} belum terbaca", (f.name,)))
    for c in compile_checks(template.checks):
        if c.holds(values) is False:
            rule = c.spec.rule or "aturan"
            text = f"{message_of(c)} ({check_in_words(c, labels, values)})"
            out.append(Broken(rule, text, c.names))
    cap = dpt + (dpt * 25 + 999) // 1000  # ballots delivered: DPT + 2.5 % reserve, rounded up
    for rf in fields:
        for name in (rf.pemilih, rf.total):
            v = values.get(name)
            if v is not None and v > cap:
                out.append(
                    Broken(
                        "R7",
                        f"R7: {labels.get(name, name)} = {v} melebihi DPT TPS ini + 2,5% ({cap}); "
                        "periksa angka ratusan",
                        (name,),
                    )
                )
        if rf.dpt is not None:
            v = values.get(rf.dpt)
            if v is not None and v != dpt:
                why = f"DPT pada formulir ({v}) berbeda dengan data DPT TPS ini ({dpt})"
                out.append(Broken("DPT", why, (rf.dpt,)))
    return out


def problems(
    template: Template,
    values: Mapping[str, int | None],
    dpt: int,
    fields: Sequence[RaceFields],
) -> list[str]:
    """Every rule these values break; empty means the form is consistent."""
    return list(dict.fromkeys(b.message for b in broken(template, values, dpt, fields)))


def field_problems(
    template: Template,
    values: Mapping[str, int | None],
    dpt: int,
    fields: Sequence[RaceFields],
) -> dict[str, list[Broken]]:
    """For each field of the template, the broken rules it takes part in (empty when none)."""
    out: dict[str, list[Broken]] = {f.name: [] for f in template.fields}
    for b in broken(template, values, dpt, fields):
        for name in b.names:
            if name in out and b not in out[name]:
                out[name].append(b)
    return out
