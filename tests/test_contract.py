"""The HTTP contract: the OpenAPI document (from the routes' response models) and docs/api.md
name the same endpoints, and every JSON route declares the shape it answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sipantau.api.infra.settings import ServiceSettings
from sipantau.api.web.app import PREFIX, create_app

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"
# "GET /submissions/{id}?wait=N": a method, then a path up to a query, quote or space
# documented, but outside the OpenAPI document: Prometheus's text at the root
HIDDEN = {("GET", "/metrics")}
DOCUMENTED = re.compile(r"\b(GET|POST|PATCH|PUT|DELETE) (/[^\s`?,)]*)")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory):
    data = tmp_path_factory.mktemp("contract")
    return create_app(ServiceSettings(data_dir=data, database_url=f"sqlite:///{data / 'x.db'}"))


def _template(path: str) -> re.Pattern[str]:
    """A route path as a pattern: each `{param}` one path segment (or part of one)."""
    parts = re.split(r"\{[^}]+\}", path.removeprefix(PREFIX))
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "$")


def _documented() -> set[tuple[str, str]]:
    found = DOCUMENTED.findall(DOC.read_text(encoding="utf-8"))
    found += re.findall(r"and `(/exports/[^`?]+)", DOC.read_text(encoding="utf-8"))
    out = {("GET", p) if isinstance(p, str) else p for p in found}
    return {(m, re.sub(r"\{[^}]+\}", "x", p)) for m, p in out}


def _operations(app) -> list[tuple[str, re.Pattern[str]]]:
    """(method, path pattern) of every operation in the OpenAPI document."""
    return [
        (method.upper(), _template(path))
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    ]


def test_every_openapi_operation_is_documented(app) -> None:
    documented = _documented()
    schema = app.openapi()["paths"]
    missing = []
    for path, operations in schema.items():
        pattern = _template(path)
        for method in operations:
            if not any(m == method.upper() and pattern.match(d) for m, d in documented):
                missing.append(f"{method.upper()} {path}")
    assert not missing, f"in the OpenAPI document, not in docs/api.md: {missing}"


def test_every_documented_operation_exists(app) -> None:
    operations = _operations(app)
    unknown = [
        f"{m} {d}"
        for m, d in sorted(_documented() - HIDDEN)
        if not any(method == m and pattern.match(d) for method, pattern in operations)
    ]
    assert not unknown, f"in docs/api.md, not in the OpenAPI document: {unknown}"
    with TestClient(app) as client:  # and the documented routes the document leaves out
        for method, path in HIDDEN:
            assert client.request(method, path).status_code == 200, path


def test_every_json_route_declares_its_response(app) -> None:
    schema = app.openapi()["paths"]
    loose = []
    for path, operations in schema.items():
        for method, op in operations.items():
            for status, answer in op.get("responses", {}).items():
                body = answer.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and body is not None and "$ref" not in str(body):
                    loose.append(f"{method.upper()} {path} {status}: {body}")
    assert not loose, f"JSON answered without a declared model: {loose}"


def test_the_service_tests_hold_routes_to_their_models() -> None:
    """With SIPANTAU_CONTRACT=strict (tests/service.py sets it for every live service) a key no
    model declares is an error; without it, it passes through unchanged."""
    import os
    import subprocess
    import sys

    probe = (
        "from sipantau.api.web.schemas.results import HealthOut as H\n"
        "print(H.model_validate({'status': 'ok', 'extra': 1}).model_dump())\n"
    )
    run = [sys.executable, "-c", probe]
    plain = {k: v for k, v in os.environ.items() if k != "SIPANTAU_CONTRACT"}
    loose = subprocess.run(run, capture_output=True, text=True, env=plain)
    assert loose.stdout.strip() == "{'status': 'ok', 'extra': 1}", loose.stderr
    env = dict(plain, SIPANTAU_CONTRACT="strict")
    strict = subprocess.run(run, capture_output=True, text=True, env=env)
    assert strict.returncode != 0 and "extra_forbidden" in strict.stderr
