"""No module uses a private name (one underscore) of another package: what a package keeps
private it may change without looking outside. The import rules themselves are import-linter's
(pyproject.toml, `make lint`)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "audittrail"


def _modules() -> Iterator[tuple[str, ast.Module]]:
    for path in sorted((SRC / ROOT).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(SRC).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        yield name, ast.parse(path.read_text(), filename=str(path))


def _package(module: str) -> str:
    """The top-level package (or module) of the project a module belongs to."""
    return ".".join(module.split(".")[:2])


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _uses_of_private_names(module: str, tree: ast.Module) -> Iterator[str]:
    aliases: dict[str, str] = {}  # local name -> project module it stands for
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(ROOT):
            source = node.module or ""
            for alias in node.names:
                if _private(alias.name) and _package(source) != _package(module):
                    yield f"{module} imports {source}.{alias.name}"
                aliases[alias.asname or alias.name] = f"{source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(ROOT):
                    aliases[alias.asname or alias.name] = alias.name
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and _private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _package(aliases[node.value.id]) != _package(module)
        ):
            yield f"{module} uses {aliases[node.value.id]}.{node.attr}"


def test_no_module_uses_a_private_name_of_another_package() -> None:
    found = [use for module, tree in _modules() for use in _uses_of_private_names(module, tree)]
    assert found == []


def test_the_check_finds_one() -> None:
    tree = ast.parse(
        "from audittrail.integrity.canonical import _fast_form\n"
        "from audittrail.log import leaf_reader\n"
        "leaf_reader._QUICK\n"
    )
    assert list(_uses_of_private_names("audittrail.records.intake", tree)) == [
        "audittrail.records.intake imports audittrail.integrity.canonical._fast_form",
        "audittrail.records.intake uses audittrail.log.leaf_reader._QUICK",
    ]
