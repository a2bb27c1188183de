"""Admins: import the election, manage users."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field
from sqlalchemy import select

from sipantau.api.domain.accounts import create_user, reset, set_tps
from sipantau.api.domain.auth import ROLES, Principal
from sipantau.api.domain.directory import election_info, import_election
from sipantau.api.domain.election import ElectionError, load_election_files
from sipantau.api.domain.errors import Invalid, TooLarge, invalid, not_found
from sipantau.api.infra.models import Event, User, UserTps
from sipantau.api.web.deps import Ctx, role
from sipantau.api.web.schemas.accounts import AccountOut, AccountsOut, ElectionOut, ImportOut
from sipantau.api.web.schemas.base import answers

router = APIRouter(tags=["admin"])
Admin = Annotated[Principal, Depends(role("admin"))]
MAX_FILE = 5_000_000
USERNAME = r"^[a-z0-9][a-z0-9._-]{1,63}$"


class UserIn(BaseModel):
    username: str = Field(pattern=USERNAME)
    password: str = Field(min_length=8, max_length=200)
    role: str
    name: str = Field("", max_length=200)
    tps: list[str] = Field(default_factory=list, max_length=1000)


class UserPatch(BaseModel):
    password: str | None = Field(None, min_length=8, max_length=200)
    active: bool | None = None
    role: str | None = None
    name: str | None = Field(None, max_length=200)
    tps: list[str] | None = Field(None, max_length=1000)


@router.get("/election", **answers(ElectionOut))
def election(ctx: Ctx, user: Annotated[Principal, Depends(role(*ROLES))]) -> dict[str, Any]:
    with ctx.reads() as session:
        return election_info(session)


@router.post("/admin/election", **answers(ImportOut))
async def import_files(
    ctx: Ctx,
    user: Admin,
    election: Annotated[UploadFile, File()],
    regions: Annotated[UploadFile, File()],
) -> dict[str, Any]:
    e, r = await election.read(MAX_FILE + 1), await regions.read(MAX_FILE + 1)
    if len(e) > MAX_FILE or len(r) > MAX_FILE:
        raise TooLarge("berkas pemilihan lebih dari 5 MB")

    def save() -> dict[str, Any]:  # parsing a large CSV takes seconds: not on the event loop
        try:
            config = load_election_files(e, r)
        except ElectionError as exc:
            problems = "; ".join(str(p) for p in exc.problems[:50])
            raise Invalid(f"{exc.message}: {problems}", code=exc.code) from exc
        with ctx.sessions() as session, session.begin():
            return import_election(session, config, user.id)

    return await run_in_threadpool(save)


def _user_view(u: User, tps: list[str]) -> dict[str, Any]:
    return {
        "username": u.username,
        "name": u.name,
        "role": u.role,
        "active": u.active,
        "tps": tps,
        "created_at": u.created_at.isoformat(),
    }


@router.get("/admin/users", **answers(AccountsOut))
def list_users(ctx: Ctx, user: Admin) -> dict[str, Any]:
    with ctx.reads() as session:
        links: dict[int, list[str]] = {}
        for uid, code in session.execute(select(UserTps.user_id, UserTps.tps_code)):
            links.setdefault(uid, []).append(code)
        users = session.scalars(select(User).order_by(User.username)).all()
        return {"items": [_user_view(u, sorted(links.get(u.id, []))) for u in users]}


@router.post("/admin/users", status_code=201, **answers(AccountOut))
def create(body: UserIn, ctx: Ctx, user: Admin) -> dict[str, Any]:
    with ctx.sessions() as session, session.begin():
        row = create_user(
            session, body.username, body.password, body.role, body.name, body.tps, user.id
        )
        return _user_view(row, sorted(set(body.tps)))


@router.patch("/admin/users/{username}", **answers(AccountOut))
def update_user(username: str, body: UserPatch, ctx: Ctx, user: Admin) -> dict[str, Any]:
    with ctx.sessions() as session, session.begin():
        row = session.scalar(select(User).where(User.username == username))
        if row is None:
            raise not_found(f"pengguna {username[:64]}")
        if body.role is not None:
            if body.role not in ROLES:
                raise invalid(f"peran harus salah satu dari {list(ROLES)}")
            row.role = body.role
        reset(session, row, body.password, body.active)
        if body.name is not None:
            row.name = body.name
        if body.tps is not None:
            set_tps(session, row.id, body.tps)
        changed = sorted(k for k, v in body.model_dump().items() if v is not None)
        session.add(
            Event(
                actor_id=user.id,
                kind="user_changed",
                detail={"username": username, "changed": changed},
            )
        )
        tps = sorted(session.scalars(select(UserTps.tps_code).where(UserTps.user_id == row.id)))
        return _user_view(row, tps)
