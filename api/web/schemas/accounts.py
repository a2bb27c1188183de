"""Accounts, logins and the election's shape."""

from __future__ import annotations

from sipantau.api.web.schemas.base import Out


class TpsOut(Out):
    code: str
    number: int
    name: str
    dpt: int
    special: bool
    kelurahan: str
    kelurahan_code: str
    kecamatan: str
    kecamatan_code: str


class UserOut(Out):
    """Who is logged in (`tps` only for monitors)."""

    username: str
    name: str
    role: str
    tps: list[TpsOut]


class LoginOut(Out):
    token: str
    expires_at: str
    user: UserOut


class AccountOut(Out):
    """An account as the admin sees it."""

    username: str
    name: str
    role: str
    active: bool
    tps: list[str]
    created_at: str


class AccountsOut(Out):
    items: list[AccountOut]


class RaceOut(Out):
    id: str
    name: str
    paslon: list[str]


class FormOut(Out):
    id: str
    label: str


class ElectionOut(Out):
    name: str
    region: str
    date: str
    races: list[RaceOut]
    forms: list[FormOut]


class ImportOut(Out):
    """What an election import brought in."""

    races: int
    kecamatan: int
    kelurahan: int
    tps: int
    dpt: int
