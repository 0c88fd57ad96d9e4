"""One exception tree, so the CLI has a single place that turns failures into messages.

::

    MonitorError                 anything the user can act on; message says what to check
    ├── ConfigError              the config file is missing or invalid (exit 2)
    ├── UsageError               a command-line value names nothing known (exit 2)
    ├── StoreError               the state database cannot be used
    ├── LockedError              another process holds the state folder
    ├── FetchError               HTTP failed after retries (network, status, size cap, robots)
    │   └── RobotsDisallowedError
    ├── ParseError               a page does not look like what the parser expects
    │   └── ListingEmptyError    a 200 listing parsed to no rows: a changed site, not "no news"
    └── DeliveryError            a transport could not deliver
        ├── TemporaryDeliveryError   retry later (4xx, network)
        │   └── DeliveryUncertainError   the data went out, the final reply never came
        └── PermanentDeliveryError   give up on this delivery (5xx for the recipient)
            └── RecipientRefusedError    5xx for the recipient: not the transport's fault
"""

from __future__ import annotations


class MonitorError(Exception):
    """Base of every error the user is expected to understand without a traceback."""

    exit_code = 1


class ConfigError(MonitorError):
    """The configuration cannot be used; ``problems`` lists each as ``FILE: dotted.path: message``."""

    exit_code = 2

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


class UsageError(MonitorError):
    """A command-line argument names something unknown (a theme id, a source id): a usage
    error like those argparse reports, so exit 2 as the README says."""

    exit_code = 2


class StoreError(MonitorError):
    """The SQLite state cannot be opened or migrated."""


class LockedError(MonitorError):
    """Another mofa-monitor process already uses this state folder."""


class FetchError(MonitorError):
    """A request failed for good (after retries): network, HTTP status, size cap, bad body."""


class RetryLaterError(FetchError):
    """The server asked us to come back later (429/503 with ``Retry-After``).

    ``seconds`` is how long it asked us to wait, from now. Callers that poll on a schedule
    must not ask again before then (see :mod:`monitor.store.sources`).
    """

    def __init__(self, message: str, seconds: float) -> None:
        super().__init__(message)
        self.seconds = seconds


class RobotsDisallowedError(FetchError):
    """robots.txt of the host forbids the URL for our User-Agent."""


class ParseError(MonitorError):
    """A page does not have the structure the parser relies on."""


class ListingEmptyError(ParseError):
    """A listing answered 200 but held no release rows: the site or the parser changed."""


class DeliveryError(MonitorError):
    """A digest could not be delivered."""


class TemporaryDeliveryError(DeliveryError):
    """The transport failed in a way worth retrying (4xx reply, network error)."""


class PermanentDeliveryError(DeliveryError):
    """The server refused the recipient or message for good (5xx reply)."""


class DeliveryUncertainError(TemporaryDeliveryError):
    """The whole message went to the server but its final reply never came (RFC 5321 §4.5.3.2.6,
    RFC 1047): the server may have stored it. Sending again may duplicate it, so the outbox does
    so once at most."""


class DeliveryAbandonedError(DeliveryUncertainError):
    """The process stopped while waiting for the final reply to a whole message: the wait was
    abandoned (the connection closed) so that stopping keeps its bound. Uncertain like any
    missing final reply, but no fault of the transport."""


class RecipientRefusedError(PermanentDeliveryError):
    """The server refused this recipient for good (5xx to RCPT): that delivery alone fails, and
    the transport itself is not at fault (other permanent refusals count against it)."""
