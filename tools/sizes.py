"""Size figures of the package: modules and their lines, functions and their lines.

Run once by hand (``python tools/sizes.py [package_dir]``) to compare layouts; not part of CI.
"""

import ast
import statistics
import sys
from pathlib import Path


def main(root: str = "monitor") -> None:
    modules = sorted(p for p in Path(root).rglob("*.py"))
    module_lines = [len(p.read_text(encoding="utf-8").splitlines()) for p in modules]
    function_lines = [
        node.end_lineno - node.lineno + 1
        for p in modules
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8")))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno
    ]
    print(f"modules: {len(modules)}")
    print(f"module lines: median {statistics.median(module_lines)}, max {max(module_lines)}")
    print(f"functions: {len(function_lines)}")
    print(f"function lines: median {statistics.median(function_lines)}, max {max(function_lines)}")


if __name__ == "__main__":
    main(*sys.argv[1:])
