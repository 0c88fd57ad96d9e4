"""Shared parts of the fault suite: scale, the CLI in a subprocess, mail sinks, a tally.

The suite has two sizes. The **short run** is part of every ``pytest`` (CI) and keeps each
scenario to a handful of faults. The **full run** is selected with ``MOFA_FAULTS=full``::

    MOFA_FAULTS=full pytest tests/reliability -p no:cacheprovider -rP

``MOFA_FAULTS_SEED`` fixes the random choices (each scenario prints the seed it used) and
``MOFA_FAULTS_REPORT=FILE`` appends one JSON line per scenario with what was measured, which is
how the table in ``docs/RELIABILITY.md`` is made.
"""

from __future__ import annotations

import email
import json
import os
import random
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

FULL = os.environ.get("MOFA_FAULTS", "").strip().lower() == "full"
_SEQ = re.compile(r"view\.do\?seq=(\d+)")


def scale(short: int, full: int) -> int:
    """How many times to repeat a fault: ``short`` in CI, ``full`` with MOFA_FAULTS=full."""
    return full if FULL else short


#: One seed per test session (MOFA_FAULTS_SEED, else random); every scenario reports it.
SEED = int(os.environ.get("MOFA_FAULTS_SEED") or random.SystemRandom().randrange(2**32))


def rng(name: str) -> tuple[random.Random, int]:
    """The random source of scenario ``name`` (derived from the session's seed), and the seed."""
    return random.Random(f"{SEED}:{name}"), SEED


def cli_args(config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "monitor", "--config", str(config), *args]


def cli(config: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run one command to its end (bounded), as a user would."""
    return subprocess.run(
        cli_args(config, *args),
        cwd=config.parent,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, step: float = 0.02) -> Any:
    """Poll ``predicate`` until truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(step)


@dataclass(frozen=True)
class Mail:
    """One message as a subscriber got it: recipient, Message-ID and the releases it lists."""

    to: str
    message_id: str
    seqs: frozenset[int]


def mail_of(to: str, message: EmailMessage) -> Mail:
    body = message.get_body(("plain",))
    text = body.get_content() if body is not None else ""
    seqs = frozenset(int(s) for s in _SEQ.findall(text))
    return Mail(to.lower(), str(message["Message-ID"]), seqs)


class MaildirSink:
    """Digests written to a Maildir; counting is one directory scan (cheap enough to spin on)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def count(self) -> int:
        total = 0
        for sub in ("new", "cur"):
            try:
                with os.scandir(self.path / sub) as entries:
                    total += sum(1 for _ in entries)
            except FileNotFoundError:
                pass
        return total

    def mails(self) -> list[Mail]:
        found = []
        for sub in ("new", "cur"):
            folder = self.path / sub
            for file in sorted(folder.iterdir()) if folder.is_dir() else ():
                message = email.message_from_bytes(file.read_bytes(), policy=default_policy)
                address = email.utils.parseaddr(str(message["To"]))[1]
                found.append(mail_of(address, message))  # type: ignore[arg-type]
        return found


class SmtpSink:
    """Digests accepted by the test SMTP server (one entry per recipient of each message)."""

    def __init__(self, server: Any) -> None:
        self.server = server

    def count(self) -> int:
        return len(self.server.received)

    def mails(self) -> list[Mail]:
        return [mail_of(r, m.message) for m in list(self.server.received) for r in m.rcpt_tos]


@dataclass
class Tally:
    """What a scenario measured; :meth:`check` asserts the promise, :meth:`report` records it."""

    scenario: str
    seed: int
    kills: int = 0
    interrupted_sends: int = 0
    faults: int = 0
    expected: int = 0
    lost: int = 0
    duplicates: int = 0
    duplicate_pairs: int = 0
    pairs_in_two_messages: int = 0
    max_copies: int = 0
    most_duplicates_per_kill: int = 0
    notes: list[str] = field(default_factory=list)
    kill_marks: list[int] = field(default_factory=list, repr=False)

    def mark_kill(self, received: int) -> None:
        """Note how many messages the sink held once a killed process was dead."""
        self.kill_marks.append(received)

    def attribute(self, mails: list[Mail]) -> None:
        """Charge each repeated message to the kill between it and its previous copy.

        ``mails`` must be in arrival order (the SMTP sink's). A kill can only repeat what was
        on the wire when it struck: a copy that arrived before the process died and the next
        one after it (a message resent after one kill can be on the wire again at the next).
        A repeat that no kill separates from its previous copy is charged to none and noted
        as unexplained (the kill tests require none).
        """
        previous: dict[tuple[str, str], int] = {}
        per_kill: Counter[int] = Counter()
        unexplained = 0
        for index, mail in enumerate(mails):
            key = (mail.to, mail.message_id)
            if key in previous:
                before = previous[key]
                kill = next(
                    (k for k, mark in enumerate(self.kill_marks) if before < mark <= index), None
                )
                if kill is None:
                    unexplained += 1
                else:
                    per_kill[kill] += 1
            previous[key] = index
        self.most_duplicates_per_kill = max(per_kill.values(), default=0)
        if unexplained:
            self.notes.append(f"{unexplained} repeat(s) not separated by a kill")

    def count(self, mails: list[Mail], expected: dict[str, set[int]]) -> None:
        """Lost: (subscriber, release) pairs no mail carried. Duplicates: extra copies of a
        message (same Message-ID to the same reader — what a crash between the server's 250 and
        the commit can cause), plus pairs carried by two *different* messages (a release planned
        twice for one reader, which nothing may cause). ``duplicate_pairs`` counts the extra
        (reader, release) copies however they came: a repeated message of two releases repeats
        two pairs, so it is reported, not compared with the kills."""
        self.expected = sum(len(seqs) for seqs in expected.values())
        pairs = Counter((m.to, seq) for m in mails for seq in m.seqs)
        wanted = {(to.lower(), seq) for to, seqs in expected.items() for seq in seqs}
        self.lost = len(wanted - set(pairs))
        copies = Counter((m.to, m.message_id) for m in mails)
        extra_messages = sum(n - 1 for n in copies.values())
        carriers = Counter(
            (to, seq) for to, _, seq in {(m.to, m.message_id, s) for m in mails for s in m.seqs}
        )
        self.pairs_in_two_messages = sum(n - 1 for n in carriers.values())
        self.duplicate_pairs = sum(n - 1 for n in pairs.values())
        self.duplicates = extra_messages + self.pairs_in_two_messages
        self.max_copies = max([*copies.values(), *pairs.values()], default=0)

    def report(self) -> None:
        record = asdict(self)
        del record["kill_marks"]
        line = json.dumps({"full": FULL, **record})
        print(f"\nfault-suite: {line}")
        target = os.environ.get("MOFA_FAULTS_REPORT")
        if target:
            with open(target, "a", encoding="utf-8") as file:
                file.write(line + "\n")
