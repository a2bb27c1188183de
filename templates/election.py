"""The election a form is built for: races and their candidate pairs (paslon)."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field


class Race(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    short: str = Field(pattern=r"^[a-z][a-z0-9]*$")  # field-name prefix on the blanko
    name: str
    paslon: list[str] = Field(min_length=1, max_length=9)


class Election(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    region: str
    date: str
    races: list[Race] = Field(min_length=1, max_length=2)


DEMO_ELECTION = Path(__file__).with_name("election-demo.yaml")


def load_election(path: Path = DEMO_ELECTION) -> Election:
    """Load and validate an election file (YAML)."""
    return Election.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
