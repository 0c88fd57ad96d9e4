"""Logging to stderr: readable lines for people, one JSON object per line for log collectors.

Log messages quote scraped text and server replies; both formats pass through
:mod:`monitor.ops.terminal`, so an ESC sequence or bidi override in a title cannot drive the terminal
that shows the log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys

from monitor.ops.terminal import for_terminal, json_for_terminal


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with the fields a log pipeline indexes."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json_for_terminal(json.dumps(payload, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``time LEVEL logger: message``, with terminal-driving characters shown as escapes."""

    def format(self, record: logging.LogRecord) -> str:
        return for_terminal(super().format(record), multiline=True)


def setup_logging(verbosity: int, log_format: str = "text") -> None:
    """INFO by default, DEBUG with ``-v``; third-party chatter stays at WARNING."""
    handler = logging.StreamHandler(sys.stderr)
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity else logging.INFO)
    for noisy in ("apscheduler", "mail.log", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbosity > 1 else logging.WARNING)
    # monitor.fetch.http logs every retry itself; urllib3's own lines would say it twice.
    logging.getLogger("urllib3").setLevel(logging.DEBUG if verbosity > 1 else logging.ERROR)
