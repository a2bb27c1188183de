"""`sipantau serve --demo`: the demo election, demo accounts and the sample photos submitted."""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import select

from sipantau.api.domain.auth import hash_password, principal_of
from sipantau.api.domain.directory import import_election
from sipantau.api.domain.intake import accept
from sipantau.api.infra.context import Context
from sipantau.api.infra.db import transaction
from sipantau.api.infra.models import ElectionRow, Tps, User, UserTps
from sipantau.api.infra.storage import write_durably

log = logging.getLogger("sipantau.demo")
SAMPLES = Path(__file__).resolve().parents[2] / "samples"
STAFF = (
    ("admin", "admin", "Admin posko"),
    ("reviewer1", "reviewer", "Petugas pemeriksa 1"),
    ("reviewer2", "reviewer", "Petugas pemeriksa 2"),
    ("pimpinan", "leadership", "Pimpinan"),
)


def monitor_name(tps: str) -> str:
    return f"tps-{tps}"


# Demo monitors' passwords are random 72-bit strings, which need no key stretching to resist
# guessing; a light argon2 makes 328 of them in ~1 s instead of minutes (verification reads
# the parameters from each hash).
_MONITOR_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def _password() -> str:
    return secrets.token_urlsafe(9)


def setup(ctx: Context) -> dict[str, Any] | None:
    """Import the demo election and create demo accounts; the credentials when newly made."""
    from sipantau.api.domain.election import load_demo

    with transaction(ctx.sessions) as s:
        if s.get(ElectionRow, 1) is None:
            log.info("importing the demo election: %s", import_election(s, load_demo(), None))
        if s.scalar(select(User).where(User.username == "admin")) is not None:
            return None
        users: list[dict[str, Any]] = []
        for username, role, name in STAFF:
            pw = _password()
            s.add(User(username=username, role=role, name=name, password_hash=hash_password(pw)))
            users.append({"username": username, "password": pw, "role": role, "tps": []})
        for code in s.scalars(select(Tps.code).order_by(Tps.code)):
            pw = _password()  # one per TPS: a monitor cannot log in as another TPS
            u = User(username=monitor_name(code), role="monitor", name=f"Pemantau TPS {code}")
            u.password_hash = _MONITOR_HASHER.hash(pw)
            s.add(u)
            s.flush()
            s.add(UserTps(user_id=u.id, tps_code=code))
            users.append({"username": u.username, "password": pw, "role": "monitor", "tps": [code]})
    creds = {"users": users}
    path = credentials_path(ctx)
    write_durably(path, json.dumps(creds, indent=1).encode())
    os.chmod(path, 0o600)
    return creds


def submit_samples(ctx: Context, folder: Path = SAMPLES) -> int:
    """Send every committed sample photo for its TPS, as that TPS's monitor (idempotent)."""
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    sent = 0
    for item in truth["photos"]:
        template = item["template"]
        race = "semua" if template == "sipantau-blanko" else template.rsplit("-", 1)[-1]
        with ctx.reads() as s:
            user = s.scalar(select(User).where(User.username == monitor_name(item["tps"])))
            if user is None:
                log.warning("no demo monitor for TPS %s; sample skipped", item["tps"])
                continue
            principal = principal_of(s, user)
        data = (folder / item["photo"]).read_bytes()
        sent += accept(ctx, principal, item["tps"], race, data, None).created
    return sent


def credentials_path(ctx: Context) -> Path:
    return ctx.settings.data_dir / "demo-credentials.json"


def describe(creds: dict[str, Any], path: Path) -> str:
    """The lines printed once, when the demo accounts are made: where the passwords are (the
    file only, readable by its owner alone), never a password."""
    admin = next(u["username"] for u in creds["users"] if u["role"] == "admin")
    return (
        f"Akun demo dibuat ({len(creds['users'])} akun, masing-masing dengan kata sandinya "
        f"sendiri); kata sandinya hanya ada di {path} (hanya dapat dibaca pemiliknya).\n"
        f"Masuk pertama sebagai admin: nama pengguna {admin}."
    )
