"""The assembled application: config, store, classifier and transport wired together once.

:meth:`App.tick` is the one unit of work — poll → store → classify → alert → plan → send →
metrics. ``run-once`` runs it once over every source; every timer of the service runs it too
(over the sources that fell due, or over none to plan and send), so the service only decides
*when*.
"""

from __future__ import annotations

import logging
import threading
import typing
from collections.abc import Callable, Collection
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from monitor import data as packaged_data
from monitor.clock import Clock, system_clock
from monitor.closing import Closing
from monitor.config import Config, ThemeConfig
from monitor.ops import alerts
from monitor.schedule.poll import Poller, PollReport
from monitor.store.sqlite import Store

if TYPE_CHECKING:
    from monitor.classify.themes import Classifier, Taxonomy, ThemeSpec
    from monitor.deliver.transports import Transport
    from monitor.ops.health import Metrics
    from monitor.plan import outbox

log = logging.getLogger(__name__)


class _TransportOnFirstUse:
    """A pass's transport, made (and the mail modules imported) when first used: a pass that
    finds nothing to send and no alert to mail makes none. Used as ``make()`` would be: as a
    context manager, closed (if made) on exit."""

    def __init__(self, make: Callable[[], Transport]) -> None:
        self._make = make
        self._made: Transport | None = None

    def __enter__(self) -> Transport:
        return typing.cast("Transport", self)

    def __exit__(self, *exc_info: object) -> None:
        if self._made is not None:
            self._made.__exit__(*exc_info)  # type: ignore[arg-type]

    def __getattr__(self, name: str) -> Any:
        if self._made is None:
            self._made = self._make().__enter__()
        return getattr(self._made, name)


@dataclass(frozen=True, slots=True)
class TickReport:
    """One tick: what polling found, what was planned and what was sent."""

    poll: PollReport | None
    planned: tuple[str, ...]
    send: outbox.SendReport | None


def theme_spec(theme: ThemeConfig) -> ThemeSpec:
    """A config ``[[themes]]`` entry as the classifier's spec.

    One ``patterns`` list: the classifier matches those containing Hangul as substrings
    (particles attach to Korean nouns) and the others as whole-word regexes.
    """
    from monitor.classify.themes import ThemeSpec

    return ThemeSpec(
        id=theme.id,
        name=theme.name or "",
        description=theme.description or "",
        patterns=list(theme.patterns),
        mode=theme.mode,
        weights=dict(theme.weights) if theme.weights else None,
        threshold=theme.threshold,
    )


def build_taxonomy(config: Config) -> Taxonomy:
    """The packaged themes with the config's additions and overrides applied."""
    from monitor.classify.themes import load_default_taxonomy

    return load_default_taxonomy().with_overrides(theme_spec(t) for t in config.themes)


class App(Closing):
    """Everything one process needs, built from one validated config.

    ``clock`` is the process's one clock (see :mod:`monitor.clock`), handed to every component
    that stamps or compares time. ``metrics`` are the counters a tick bumps; the service passes
    its own so that they outlive a config reload (which builds a new App). Without them (a
    one-shot command, which serves no ``/metrics``) nothing is counted.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock = system_clock,
        cancel: threading.Event | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        self.cancel = cancel  # set when the process stops: HTTP requests in flight end at once
        self.metrics = metrics
        self.store = Store.in_dir(config.state_dir, clock=clock)
        self.store.sync_subscribers(s.email for s in config.subscribers)

    @cached_property
    def classifier(self) -> Classifier:
        """Built on first use: compiling the rules takes most of a second, which read-only
        commands such as ``status`` should not pay."""
        from monitor.classify.themes import Classifier

        return Classifier(build_taxonomy(self.config))

    @cached_property
    def poller(self) -> Poller:
        """The source poller (one HTTP session per source), built on first use."""
        return Poller(
            self.config,
            self.store,
            lambda: self.classifier,  # built only when a release is to be tagged
            cancel=self.cancel,
            clock=self.clock,
        )

    def close(self) -> None:
        """Release HTTP sessions and the database."""
        if "poller" in self.__dict__:
            self.poller.close()
        self.store.close()

    @cached_property
    def theme_names(self) -> dict[str, str]:
        """Theme id → display name, for digests: the packaged names with the config's, read
        without building the classifier or importing its module (a send pass with nothing new
        tags nothing)."""
        return packaged_data.theme_names((t.id, t.name) for t in self.config.themes)

    def reclaim_interrupted_sends(self) -> None:
        """Make deliveries leased by a process that died sendable now, not when the lease ends.

        Call only while holding the state lock: then no other sender can be mid-send.
        """
        count = self.store.release_leases()
        if count:
            log.warning(
                "%d delivery(ies) claimed by a process that stopped (mid-send, or not yet tried) "
                "are due again",
                count,
            )

    def transport(self) -> Transport:
        """A fresh transport for one batch of sends (one SMTP connection per batch)."""
        from monitor.deliver.transports import make_transport

        return make_transport(self.config, cancel=self.cancel)

    def tick(self, sources: Collection[str] | None = None, *, send: bool = True) -> TickReport:
        """The unit of work: poll → store → classify → alert → plan → send → metrics.

        ``sources``: ids of the sources to poll (None: every enabled source; empty: poll nothing,
        only plan and send what is due). The sources polled share one poll run, so what they
        found goes out in one immediate digest. ``send=False`` stores a silent baseline and plans
        and mails nothing.
        """
        poll = None
        if sources is None or sources:
            poll = self.poller.poll_all(sources, baseline_only=not send)
            if self.metrics is not None:
                for outcome in poll.outcomes:
                    self.metrics.observe_poll(outcome)
        if not send:
            return TickReport(poll, (), None)
        if poll is not None:
            # one mail to the operator when a source goes down, one when it is back
            alerts.notify_operator(self.config, self.store, poll.outcomes, self.transport)
        planned, sent = self.plan_and_send(poll_run=poll.run_id if poll else None)
        return TickReport(poll, planned, sent)

    def plan_and_send(
        self, *, poll_run: int | None = None
    ) -> tuple[tuple[str, ...], outbox.SendReport]:
        """Freeze every due digest and send every pending delivery."""
        from monitor.plan import outbox  # imported here: ``status`` and ``--help`` never plan

        planned = tuple(
            outbox.plan_due(self.config, self.store, now=self.clock(), poll_run=poll_run)
        )
        with _TransportOnFirstUse(self.transport) as transport:
            sent = outbox.send_due(
                self.config,
                self.store,
                transport,
                self.theme_names,
                now=self.clock,
                cancel=self.cancel,
            )
        return planned, sent
