"""The package layout: what pyproject ships matches the folders, and tests import this checkout."""

import tomllib
from pathlib import Path

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
