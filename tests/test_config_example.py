"""config.example.toml must say what the program does: the options it sets are the defaults."""

from __future__ import annotations

import re
from pathlib import Path

from monitor.config import Config, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"


def load_pair(tmp_path: Path, edit: str = "") -> tuple[Config, Config]:
    """The example (its ``state_dir`` line replaced by ``edit``) and the bare defaults, both
    loaded from the same folder so relative paths resolve alike."""
    example = tmp_path / "config.toml"
    text = EXAMPLE.read_text(encoding="utf-8")
    if edit:
        text = re.sub(r"^state_dir = .*$", edit, text, count=1, flags=re.MULTILINE)
    example.write_text(text, encoding="utf-8")
    bare = tmp_path / "bare.toml"
    bare.write_text(f"[service]\n{edit}\n", encoding="utf-8")
    return load_config(example), load_config(bare)


def test_the_example_sets_only_defaults(tmp_path: Path) -> None:
    """Each option under [service], [mail], [mail.smtp] and the example source is the default."""
    example, defaults = load_pair(tmp_path)
    assert example.service == defaults.service
    assert example.mail == defaults.mail
    assert example.sources == defaults.sources


def test_changing_only_state_dir_moves_the_outbox_with_it(tmp_path: Path) -> None:
    """The systemd and Docker sections change state_dir alone: mail must follow it."""
    example, _ = load_pair(tmp_path, 'state_dir = "/var/lib/mofa-monitor"')
    assert example.state_dir == Path("/var/lib/mofa-monitor")
    assert example.maildir == Path("/var/lib/mofa-monitor/outbox")
