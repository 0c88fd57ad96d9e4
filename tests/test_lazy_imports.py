"""A command imports what it runs: ``--help`` no pipeline module, an idle ``run-once`` no parser,
template engine or scheduler. Checked on ``sys.modules`` of a fresh interpreter (a subprocess),
since this test process has imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from sitekit import SiteServer

#: Heavy third-party modules and the pipeline stages ``--help`` must not import.
NOT_FOR_HELP = (
    "jinja2",
    "css_inline",
    "bs4",
    "soupsieve",
    "lxml",
    "requests",
    "urllib3",
    "apscheduler",
    "pydantic",
    "prometheus_client",
    "protego",
    "monitor.config",
    "monitor.schedule.app",
    "monitor.store.sqlite",
    "monitor.fetch.http",
    "monitor.parse.board",
    "monitor.classify.themes",
    "monitor.render.digest",
    "monitor.plan.outbox",
)
#: What an idle poll (a 304: nothing to parse, tag, render or schedule, and a config file
#: unchanged since the last run validated it: :mod:`monitor.ops.configcache`) must not import.
NOT_FOR_IDLE = (
    "pydantic",
    "pydantic_core",
    "jinja2",
    "css_inline",
    "bs4",
    "soupsieve",
    "lxml",
    "apscheduler",
    "prometheus_client",
    "monitor.parse.board",
    "monitor.parse.feed",
    "monitor.schedule.service",
    "monitor.ops.health",
    "monitor.plan.subscriptions",
    "monitor.render.digest",
    "monitor.render.view",
    "monitor.render.templates",
    "monitor.classify.themes",
    "monitor.classify.learn",
    "monitor.classify.countries",
    "monitor.deliver.transports",  # nothing to send: no transport is made
    "monitor.deliver.mailmessage",
    "smtplib",
    "uuid",  # nothing planned: no Message-ID
    "email.mime",
)


def imported_after(argv: list[str], watched: tuple[str, ...]) -> tuple[int, list[str]]:
    """Run ``mofa-monitor argv`` in a fresh interpreter; its exit code and which of
    ``watched`` it had imported by the end."""
    code = textwrap.dedent(
        f"""
        import json, sys
        from monitor.cli.parser import main
        try:
            rc = main({argv!r})
        except SystemExit as exc:
            rc = exc.code
        watched = {watched!r}
        print(json.dumps([rc, sorted(m for m in watched if m in sys.modules)]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    rc, found = json.loads(done.stdout.strip().splitlines()[-1])
    return int(rc or 0), list(found)


def test_help_imports_no_pipeline_module() -> None:
    rc, found = imported_after(["--help"], NOT_FOR_HELP)
    assert rc == 0
    assert found == []


def test_a_subcommands_help_imports_no_pipeline_module() -> None:
    rc, found = imported_after(["run-once", "--help"], NOT_FOR_HELP)
    assert rc == 0
    assert found == []


def test_an_idle_run_once_imports_no_validator_parser_template_or_scheduler(
    tmp_path: Path, live_site: SiteServer
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        '[service]\nstate_dir = "state"\nrequest_delay = "0s"\n\n'
        f'[[sources]]\nid = "mofa-en"\nurl = "{live_site.list_url()}"\n\n'
        '[mail]\nfrom = "MOFA Monitor <monitor@example.org>"\ntransport = "maildir"\n'
        'maildir = "mail"\n\n[[subscribers]]\nemail = "reader@example.org"\n'
        'frequency = "immediate"\n',
        encoding="utf-8",
    )
    argv = ["--config", str(config), "run-once"]
    rc, found = imported_after(argv, NOT_FOR_IDLE)  # the baseline parses and stores
    assert rc == 0
    assert "monitor.parse.board" in found  # the check sees what a run imports
    assert "pydantic" in found  # the first run validates the file
    before = len(live_site.requests)
    rc, found = imported_after(argv, NOT_FOR_IDLE)
    assert rc == 0
    assert [r.status for r in live_site.requests[before:] if r.status != 307] == [304]
    assert found == []
