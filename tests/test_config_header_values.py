"""Config values that reach an HTTP header, a file name or a socket are checked by check-config."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.config import load_config
from monitor.fetch.http import build_user_agent

pytestmark = pytest.mark.timeout(60)


def check_config(tmp_path: Path, text: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(path), "check-config"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )


@pytest.mark.parametrize(
    ("toml", "field", "says"),
    [
        ('[service]\ncontact = "운영팀 <ops@example.org>"\n', "service.contact", "ASCII"),
        ('[service]\ncontact = "ops@example.org\\r\\nX-Evil: 1"\n', "service.contact", "ASCII"),
        ('[service]\ncontact = "ops\\u0007@example.org"\n', "service.contact", "ASCII"),
        ('[service]\nstate_dir = "st12\\u0000x"\n', "service.state_dir", "NUL"),
        ('[mail]\nmaildir = "out\\u0000x"\n', "mail.maildir", "NUL"),
        ('[mail.smtp]\nhost = "smtp example.org"\n', "mail.smtp.host", "not a host name"),
        ('[mail.smtp]\nhost = "smtp.example.org:25"\n', "mail.smtp.host", "not a host name"),
        ('[mail.smtp]\nhost = ""\n', "mail.smtp.host", "not a host name"),
    ],
)
def test_check_config_refuses_with_one_clear_line(
    tmp_path: Path, toml: str, field: str, says: str
) -> None:
    result = check_config(tmp_path, toml)
    assert result.returncode == 2, result.stderr
    assert "internal error" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if field in line]
    assert len(lines) == 1 and says in lines[0], result.stderr


@pytest.mark.parametrize("host", ["smtp.example.org", "localhost", "127.0.0.1", "::1"])
def test_good_smtp_hosts_pass(tmp_path: Path, host: str) -> None:
    result = check_config(tmp_path, f'[mail.smtp]\nhost = "{host}"\n')
    assert result.returncode == 0, result.stderr


def test_an_ascii_contact_reaches_the_user_agent(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[service]\ncontact = "https://example.org/contact ops@example.org"\n')
    contact = load_config(path).service.contact
    agent = build_user_agent(contact)
    assert agent.endswith("(+https://example.org/contact ops@example.org)")
    agent.encode("ascii")
