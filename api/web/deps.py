"""Request dependencies: a database session per request and the logged-in user with a role."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request

from sipantau.api.domain.auth import Principal, principal_for_token
from sipantau.api.domain.errors import Unauthenticated, forbidden
from sipantau.api.infra.context import Context


def context(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


Ctx = Annotated[Context, Depends(context)]


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("silakan masuk terlebih dahulu")
    return token.strip()


def current_user(request: Request, ctx: Ctx) -> Principal:
    """The user of the bearer token (a short read; no transaction is held for the request)."""
    with ctx.reads() as session:
        principal = principal_for_token(session, bearer(request))
    if principal is None:
        raise Unauthenticated("sesi berakhir atau tidak sah; silakan masuk lagi")
    return principal


def role(*roles: str) -> Callable[[Principal], Principal]:
    """A dependency that lets only these roles through."""

    def check(user: Annotated[Principal, Depends(current_user)]) -> Principal:
        if user.role not in roles:
            raise forbidden(f"peran {user.role} tidak boleh melakukan ini")
        return user

    return check


User = Annotated[Principal, Depends(current_user)]
