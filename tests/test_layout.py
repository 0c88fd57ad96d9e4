"""The package layout: what pyproject ships matches the folders, and tests import this checkout."""

import tomllib
from pathlib import Path

import grimp

import monitor
from monitor.render.templates import template_text

ROOT = Path(__file__).resolve().parent.parent


def test_tests_import_the_checkout_not_an_installed_copy() -> None:
    assert Path(monitor.__file__).resolve() == ROOT / "monitor" / "__init__.py"


def test_every_package_folder_ships() -> None:
    listed = set(
        tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    )
    folders = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "monitor").rglob("__init__.py")
    }
    assert listed - {"monitor.templates"} == folders


def test_templates_are_found_from_the_checkout() -> None:
    assert template_text("digest.txt") == (ROOT / "templates" / "digest.txt").read_text("utf-8")
    assert template_text("../pyproject.toml") is None


def test_no_import_circles() -> None:
    """No module reaches itself through imports, lazy ones included (type-hint-only ones aside).

    ``lint-imports`` (pyproject ``[tool.importlinter]``) checks the layers between stage folders;
    this checks every module, inside a folder too.
    """
    graph = grimp.build_graph("monitor", exclude_type_checking_imports=True)
    circles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if graph.chain_exists(importer=imported, imported=module):
                circles.append(f"{module} -> {imported}")
    assert circles == []
