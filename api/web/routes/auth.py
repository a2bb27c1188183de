"""Log in, log out, who am I."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from sipantau.api.domain import auth
from sipantau.api.domain.accounts import change_own_password
from sipantau.api.domain.directory import tps_info
from sipantau.api.web.client_address import client_address
from sipantau.api.web.deps import Ctx, User, bearer
from sipantau.api.web.schemas.accounts import LoginOut, UserOut
from sipantau.api.web.schemas.base import answers

router = APIRouter(tags=["auth"])


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=200)


class PasswordIn(BaseModel):
    current_password: str = Field(min_length=1, max_length=200)
    new_password: str = Field(min_length=8, max_length=200)


def user_view(session: Session, principal: auth.Principal) -> dict[str, Any]:
    tps = [tps_info(session, code) for code in sorted(principal.tps)]
    return {
        "username": principal.username,
        "name": principal.name,
        "role": principal.role,
        "tps": [t for t in tps if t is not None],
    }


@router.post("/auth/login", **answers(LoginOut))
def login(body: LoginIn, request: Request, ctx: Ctx) -> dict[str, Any]:
    ip = client_address(request, ctx.settings)
    token, expires, principal = auth.login(
        ctx.sessions, ctx.settings, body.username, body.password, ip
    )
    with ctx.reads() as session:
        view = user_view(session, principal)
    return {"token": token, "expires_at": expires.isoformat(), "user": view}


@router.post("/auth/logout", status_code=204)
def logout(request: Request, ctx: Ctx, user: User) -> Response:
    with ctx.sessions() as session, session.begin():
        auth.logout(session, bearer(request))
    return Response(status_code=204)


@router.post("/auth/password", status_code=204)
def change_password(body: PasswordIn, request: Request, ctx: Ctx, user: User) -> Response:
    """Change one's own password; every other session of the account ends."""
    change_own_password(
        ctx,
        user,
        body.current_password,
        body.new_password,
        keep_token=bearer(request),
        address=client_address(request, ctx.settings),
    )
    return Response(status_code=204)


@router.get("/me", **answers(UserOut))
def me(ctx: Ctx, user: User) -> dict[str, Any]:
    with ctx.reads() as session:
        return user_view(session, user)
