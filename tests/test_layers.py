"""The layers stay apart: import rules over every module's AST, and domain errors that become
HTTP only at the web edge, in the one body shape of docs/api.md."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from sipantau.api.domain import errors as domain_errors
from sipantau.api.domain.errors import DomainError
from sipantau.api.infra.storage import PhotoDamaged, PhotoMissing, StoreUnavailable
from sipantau.api.web.errors import domain_error, status_of

ROOT = Path(__file__).resolve().parents[1]
# Folder of each package (pyproject's package-dir) and what it may not import.
FOLDERS = {
    "sipantau.ocr": "ocr",
    "sipantau.templates": "templates",
    "sipantau.review_ui": "review_ui",
}
FOLDERS |= {f"sipantau.api.{room}": f"api/{room}" for room in ("web", "domain", "infra")}
RULES = {
    "sipantau.ocr": ("sipantau.api", "sipantau.review_ui"),
    "sipantau.templates": ("sipantau.ocr", "sipantau.api"),
    "sipantau.review_ui": ("sipantau.api", "sipantau.ocr", "sipantau.templates"),
    "sipantau.api.domain": ("sipantau.api.web",),
    "sipantau.api.infra": ("sipantau.api.web",),
}
# Known leaks, each with the follow-up that removes it; a new leak fails the test.
KNOWN: set[tuple[str, str]] = set()  # the screens now take field labels from the API (issue 13)


def imports_of(path: Path, package: str) -> set[str]:
    """Every module a file imports, at the top or inside a function, relative ones resolved."""
    found: set[str] = set()
    here = package.split(".") + ([] if path.name == "__init__.py" else [path.stem])
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(here[: len(here) - node.level] + ([base] if base else []))
            found.add(base)
            found |= {f"{base}.{a.name}" for a in node.names}
    return found


def module_package(path: Path, package: str, folder: str) -> str:
    rel = path.parent.relative_to(ROOT / folder).parts
    return ".".join([package, *rel])


def leaks() -> set[tuple[str, str]]:
    """(file, the package it may not import) for every break of a rule."""
    out = set()
    for package, banned in RULES.items():
        folder = FOLDERS[package]
        for path in sorted((ROOT / folder).rglob("*.py")):
            pkg = module_package(path, package, folder)
            names = imports_of(path, pkg)
            for b in banned:
                if any(name == b or name.startswith(b + ".") for name in names):
                    out.add((str(path.relative_to(ROOT)), b))
    return out


def test_imports_keep_the_layers_apart() -> None:
    found = leaks()
    assert found - KNOWN == set(), "imports across a layer rule"
    assert KNOWN <= found, "a known leak is gone: drop it from KNOWN"


def test_the_rule_check_sees_lazy_and_relative_imports(tmp_path: Path) -> None:
    f = tmp_path / "m.py"
    f.write_text("def g():\n    from sipantau.api.web import app\nfrom .. import x\n")
    names = imports_of(f, "sipantau.api.domain")
    assert {"sipantau.api.web.app", "sipantau.api.x"} <= names


def kinds() -> list[type[DomainError]]:
    return [
        v
        for v in vars(domain_errors).values()
        if isinstance(v, type) and issubclass(v, DomainError) and v is not DomainError
    ]


@pytest.mark.parametrize("kind", kinds(), ids=lambda k: k.__name__)
def test_every_domain_error_kind_has_a_status_and_the_api_body(kind: type[DomainError]) -> None:
    response = domain_error(kind("pesan"))
    assert 400 <= response.status_code < 600
    assert json.loads(response.body) == {"error": {"code": kind.code, "message": "pesan"}}


def test_domain_errors_answer_as_before() -> None:
    cases = [
        (domain_errors.not_found("kiriman #3"), 404, b"not_found", None),
        (domain_errors.Forbidden("x", code="own_submission"), 403, b"own_submission", None),
        (domain_errors.Invalid("x", code="invalid_election"), 422, b"invalid_election", None),
        (domain_errors.TooManyAttempts("x", retry_after=600), 429, b"too_many_attempts", "600"),
        (domain_errors.Unsupported("x"), 415, b"not_an_image", None),
        (StoreUnavailable("connect timeout"), 503, b"store_unavailable", "10"),
        (PhotoMissing("gone"), 404, b"not_found", None),
        (PhotoDamaged("hash"), 500, b"photo_damaged", None),
    ]
    for exc, status, code, retry in cases:
        response = domain_error(exc)
        assert (status_of(exc), response.status_code) == (status, status)
        body = b'{"error":{"code":"' + code + b'","message":"' + exc.message.encode() + b'"}}'
        assert response.body == body
        assert response.headers.get("retry-after") == retry
