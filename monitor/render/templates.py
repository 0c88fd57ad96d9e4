"""Where the mail templates are: the repository's top-level ``templates/`` folder.

Installed (wheel or editable), setuptools ships that folder as the ``monitor.templates`` package
(``[tool.setuptools.package-dir]`` in pyproject.toml). From a checkout imported directly (``pytest``
puts the checkout first on ``sys.path``), there is no such package: the folder is found beside
``monitor/`` instead. Either way the same files are read.
"""

from __future__ import annotations

import importlib.resources
import re
from importlib.resources.abc import Traversable
from pathlib import Path

import monitor

#: Template names are plain file names; anything else (a path, a dot-dot) is not a template.
TEMPLATE_NAME = re.compile(r"^[a-z0-9_-]+\.(html|txt)$")


def templates_root() -> Traversable:
    """The folder of templates: the installed ``monitor.templates`` package, else ``../templates``."""
    try:
        return importlib.resources.files("monitor.templates")
    except ModuleNotFoundError:
        return Path(monitor.__file__).resolve().parent.parent / "templates"


def template_text(name: str) -> str | None:
    """The text of template ``name`` (UTF-8), or None when no such template exists."""
    if not TEMPLATE_NAME.match(name):
        return None
    resource = templates_root().joinpath(name)
    return resource.read_text(encoding="utf-8") if resource.is_file() else None
