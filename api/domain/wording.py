"""Rules and fields in the words printed on the form: labels instead of field ids, a rule's
sides as "Suara Paslon 1 + Suara Paslon 2 = 190" instead of its formula (for the posko)."""

from __future__ import annotations

import ast
from collections.abc import Mapping

from sipantau.ocr.checks import CompiledCheck
from sipantau.templates.model import Template


def label_map(template: Template) -> dict[str, str]:
    """Field id -> the label printed beside its boxes (the id where a field has none)."""
    return {f.name: f.label or f.name for f in template.fields}


def _terms(node: ast.expr) -> list[str] | None:
    """The field ids of a plain sum (`a + b + c`), or None for anything else."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _terms(node.left), _terms(node.right)
        return None if left is None or right is None else left + right
    return None


def check_in_words(
    check: CompiledCheck, labels: Mapping[str, str], values: Mapping[str, int | None]
) -> str:
    """Each side of a broken check that names fields, in labels with its value:
    `"Suara Paslon 1 + Suara Paslon 2 = 190; Jumlah suara sah = 195"`."""
    tree = ast.parse(check.spec.expr, mode="eval").body
    if not isinstance(tree, ast.Compare):
        return ", ".join(labels.get(n, n) for n in check.names)
    parts = []
    for side in (tree.left, *tree.comparators):
        names = _terms(side)
        if names is None:
            if not isinstance(side, ast.Constant):
                parts.append(", ".join(labels.get(n, n) for n in check.names))
            continue
        got = [values.get(n) for n in names]
        total = "?" if any(v is None for v in got) else str(sum(v or 0 for v in got))
        parts.append(f"{' + '.join(labels.get(n, n) for n in names)} = {total}")
    return "; ".join(dict.fromkeys(parts))
