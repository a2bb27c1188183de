"""Finds and loads templates: built-in ones shipped in `forms/`, and any the desk registered."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from sipantau.errors import TemplateError, UnknownTemplate
from sipantau.templates.model import Template

BUILTIN_DIR = Path(__file__).with_name("forms")


def user_dir() -> Path:
    """Where `sipantau templates add` writes: $SIPANTAU_TEMPLATES, else ./data/templates."""
    return Path(os.environ.get("SIPANTAU_TEMPLATES", "data/templates"))


def template_dirs() -> list[Path]:
    return [BUILTIN_DIR, user_dir()]


def load_template_file(path: Path) -> Template:
    """Read and validate one template file; errors name the file and the offending key."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return Template.model_validate(raw)
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"templat {path.name} tidak dapat dibaca", detail=str(exc)) from exc
    except ValidationError as exc:
        rows = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TemplateError(f"templat {path.name} tidak valid: {rows}", detail=rows) from exc


@lru_cache(maxsize=1)
def _scan(dirs: tuple[Path, ...]) -> dict[str, tuple[Template, Path]]:
    found: dict[str, tuple[Template, Path]] = {}
    for d in dirs:
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.yaml")):
            t = load_template_file(path)
            found[t.id] = (t, path)
    return found


def all_templates() -> dict[str, Template]:
    return {k: v[0] for k, v in _scan(tuple(template_dirs())).items()}


def template_path(template_id: str) -> Path:
    found = _scan(tuple(template_dirs()))
    if template_id not in found:
        raise UnknownTemplate(
            f"templat '{template_id}' tidak dikenal; pilihan: {', '.join(sorted(found))}"
        )
    return found[template_id][1]


def get_template(template_id: str) -> Template:
    template_path(template_id)
    return all_templates()[template_id]


def save_template(template: Template, directory: Path) -> Path:
    """Write a template as YAML (the form it is loaded from) and forget cached scans."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{template.id}.yaml"
    data = template.model_dump(mode="json", exclude_defaults=False)
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    _scan.cache_clear()
    return path


def clear_cache() -> None:
    _scan.cache_clear()
