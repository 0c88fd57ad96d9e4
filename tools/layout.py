"""Print the README's "Project layout" table from the tree: one line per module, its docstring's
first sentence as the job. Run ``python tools/layout.py`` and paste the output into README.md."""

import ast
import re
from pathlib import Path


def job(path: Path) -> str:
    doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    first = " ".join(doc.split("\n\n")[0].split()).split(". ")[0].rstrip(".")
    first = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", first).replace("``", "`")
    return first.replace("|", "\\|")


def main() -> None:
    print("| module | job |\n| --- | --- |")
    for path in sorted(Path("monitor").rglob("*.py")):
        if path.name == "__main__.py" or (
            path.name == "__init__.py" and path.parent.name == "data"
        ):
            continue
        name = str(path.parent) + "/" if path.name == "__init__.py" else str(path)
        print(f"| `{name}` | {job(path)} |")
    print(
        "| `templates/` | the digest mail's text and HTML templates (shipped as `monitor.templates`) |"
    )


if __name__ == "__main__":
    main()
