"""The SMTP sink of the fan-out bench: aiosmtpd on 127.0.0.1, in its own process.

``python -m bench.perf.sink PORT`` accepts every message, keeps only a count, prints ``ready``
once listening and stops when its standard input closes (so it never outlives the bench).
"""

from __future__ import annotations

import sys

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session


class CountingHandler:
    """Accept every message; count them."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: object, session: Session, envelope: Envelope) -> str:
        self.count += len(envelope.rcpt_tos)
        return "250 OK"


def main(argv: list[str] | None = None) -> int:
    """Serve until standard input closes."""
    args = sys.argv[1:] if argv is None else argv
    port = int(args[0])
    handler = CountingHandler()
    controller = Controller(handler, hostname="127.0.0.1", port=port, data_size_limit=10_000_000)
    controller.start()
    print("ready", flush=True)
    try:
        sys.stdin.read()
    finally:
        controller.stop()
    print(f"received {handler.count}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
