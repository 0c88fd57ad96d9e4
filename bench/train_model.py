"""Retrain the shipped title model (``monitor/data/theme_model.json``) on the labelled real sets.

Usage: ``python -m bench.train_model [--check]`` (needs ``pip install 'mofa-monitor[train]'``).
Trains on every labelled real release in ``tests/data``: ``titles_dev.jsonl``,
``titles_new_dev.jsonl``, ``titles_new_dev2.jsonl`` and the titles of ``dev.jsonl``. Run it after changing the rules,
because the model takes the rules' title themes as features. ``--check`` exits 1 when the
shipped model was trained with other rules than the packaged ones (rules changed, no retraining).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from monitor.classify.evaluate import fit_model, read_files
from monitor.classify.learn import ThemeModel, describe
from monitor.classify.themes import load_default_taxonomy

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
TRAINING = ("titles_dev.jsonl", "titles_new_dev.jsonl", "titles_new_dev2.jsonl", "dev.jsonl")
SHIPPED = Path(__file__).resolve().parents[1] / "monitor" / "data" / "theme_model.json"


def main(argv: list[str] | None = None) -> int:
    """Train and write (or, with ``--check``, compare) the shipped model."""
    parser = argparse.ArgumentParser(prog="python -m bench.train_model")
    parser.add_argument("--check", action="store_true", help="only compare with the shipped file")
    args = parser.parse_args(argv)
    taxonomy = load_default_taxonomy()
    examples = read_files([DATA / name for name in TRAINING], taxonomy.ids)
    if args.check:
        shipped = ThemeModel.from_json(SHIPPED.read_text(encoding="utf-8"))
        same = shipped.rules == taxonomy.digest
        print("shipped model is up to date" if same else "shipped model is stale: retrain")
        return 0 if same else 1
    text = fit_model(taxonomy, examples).to_json() + "\n"
    SHIPPED.write_text(text, encoding="utf-8")
    print(
        f"trained on {len(examples)} releases: {describe(ThemeModel.from_json(text))} -> {SHIPPED}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
