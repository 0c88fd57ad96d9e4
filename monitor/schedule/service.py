"""``mofa-monitor run``: the one-shot tick of :class:`~monitor.schedule.app.App`, on a timer, forever.

Why it is shaped like this:

- **The service only decides *when*.** Every timer ends in :meth:`App.tick` — the function
  ``run-once`` calls. A source's timer marks the source due and queues one tick; the tick polls
  every source due by then in one poll run (at start: all of them, so the first tick mails what
  ``run-once`` would, in one immediate digest). The plan-and-send timer is a tick that polls
  nothing: it freezes due daily/weekly digests and retries deferred deliveries.

- **APScheduler with a memory job store, jobs re-added at start from the config.** Durable state
  is ours, in SQLite; the scheduler only says *when*. Due digests are computed from the database,
  so a digest whose hour passed during downtime is sent when the service is back — nothing relies
  on APScheduler catching up, and every job has an explicit ``misfire_grace_time``.
- **One worker thread owns the App.** A :class:`~monitor.store.sqlite.Store` must not be shared between
  threads, and planning must not race with itself. Scheduler jobs therefore only hand their work
  to a single-thread executor: jobs are serialised, the database is opened and closed in the same
  thread, and work that is already queued or running is not queued again — so a poll stuck on a
  slow site neither stacks up copies of itself nor makes APScheduler warn every second (its own
  ``max_instances=1`` and ``coalesce=True`` are set as well, for lateness of the scheduler).
- **Signals are taken synchronously** (blocked in every thread, collected with ``sigwait`` by the
  main thread), so no handler ever runs in the middle of a lock. SIGTERM/SIGINT interrupt the
  HTTP request in flight (its wait and its socket, see :class:`~monitor.fetch.http.Fetcher`), let the
  job end, then close everything and exit 0; SIGHUP re-reads the config.
- **An invalid config edit never stops the service:** the last good config keeps running and every
  problem is logged as ``FILE: dotted.path: message``.
"""

from __future__ import annotations

import concurrent.futures
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from apscheduler.executors.pool import ThreadPoolExecutor as SchedulerPool
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from monitor.clock import Clock, file_time_ns, system_clock
from monitor.config import Config, SourceConfig
from monitor.errors import ConfigError
from monitor.fetch.http import FetchInterrupted
from monitor.ops import configcache, lastgood
from monitor.ops.health import HealthContext, HealthServer, Metrics
from monitor.ops.lock import StateLock
from monitor.schedule.app import App

log = logging.getLogger(__name__)

CONFIG_CHECK_SECONDS = 1  # one stat() a second is free, and edits apply at once
PLAN_SECONDS = 30  # daily/weekly digests fall due at most this late, deferred deliveries are
# retried this often (their backoff still applies)
QUIET_NS = 500_000_000  # a file modified less than 0.5 s ago may be half-written
MAX_DEFAULT_JITTER = 60.0
HANDLED_SIGNALS = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}

FileStamp = tuple[int, int, int] | None


def file_stamp(path: Path) -> FileStamp:
    """What "the file changed" means: inode (editors replace files), size and mtime."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def poll_schedule(source: SourceConfig) -> tuple[float, float]:
    """(interval, jitter) in seconds; by default the jitter is a tenth of the interval, ≤ 60 s."""
    every = source.every.total_seconds()
    jitter = (
        source.jitter.total_seconds()
        if source.jitter is not None
        else min(every / 10, MAX_DEFAULT_JITTER)
    )
    return every, jitter


def poll_job_id(schedule: tuple[float, float]) -> str:
    """The scheduler id of the timer polling every source on ``schedule``."""
    every, jitter = schedule
    return f"poll every {every:g}s + {jitter:g}s"


def restart_only_changes(old: Config, new: Config) -> list[str]:
    """Settings a running process cannot adopt; the reload applies the rest and says so."""
    changed = []
    for name in ("listen", "timezone"):
        if getattr(old.service, name) != getattr(new.service, name):
            changed.append(f"[service] {name}")
    return changed


class Service:
    """The scheduler, its jobs, the worker thread that owns the App, and the health endpoint."""

    def __init__(self, config: Config, *, clock: Clock = system_clock) -> None:
        self.config = config
        self.clock = clock
        self.path = config.path
        self._stamp = file_stamp(self.path)
        self._stopping = threading.Event()
        self._worker = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="worker")
        self._app: App | None = None
        self._pending: set[tuple[Any, ...]] = set()
        self._pending_lock = threading.Lock()
        self._polls: dict[str, tuple[float, float]] = {}
        self._due: set[str] = set()  # sources whose timer fired, for the next tick
        self._tick_queued = False
        self.zone = ZoneInfo(config.service.timezone)
        self.metrics = Metrics(lambda: self.config)
        self.health: HealthServer | None = None
        self.scheduler = BackgroundScheduler(
            timezone=self.zone,
            executors={"default": SchedulerPool(8)},
            job_defaults={"coalesce": True, "max_instances": 1},
        )

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Open the database (in the worker), start the endpoint, add the jobs, start ticking."""
        self._worker.submit(self._open_app).result()  # a broken database fails the start
        if self.config.service.listen:
            ctx = HealthContext(
                config=lambda: self.config,
                metrics=self.metrics,
                started_at=self.clock(),
                clock=self.clock,
            )
            self.health = HealthServer(self.config.service.listen, ctx).start()
        self._add_fixed_jobs()
        self._sync_poll_jobs(self.config)  # every source is due now: the first tick polls all
        self.scheduler.start()
        log.info(
            "service started: %d source(s), %d subscriber(s), state in %s (PID %d)",
            len(self._polls),
            len(self.config.subscribers),
            self.config.state_dir,
            os.getpid(),
        )

    def stop(self) -> None:
        """Interrupt the fetch in flight and let its job end, skip queued ones, close everything."""
        with self._pending_lock:
            self._stopping.set()
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.health is not None:
            self.health.stop()
        self._worker.submit(self._close_app).result()
        self._worker.shutdown(wait=True)
        log.info("service stopped")

    def request_reload(self) -> None:
        """SIGHUP: re-read the config now, even if its timestamp did not change."""
        log.info("reload requested")
        self._worker.submit(self._guarded, self._check_config, True)

    # -- plumbing -----------------------------------------------------------------------------

    def _new_app(self, config: Config) -> App:
        return App(config, clock=self.clock, cancel=self._stopping, metrics=self.metrics)

    def _open_app(self) -> None:
        self._app = self._new_app(self.config)
        lastgood.remember(self.config, self.clock())
        self._app.reclaim_interrupted_sends()

    def _close_app(self) -> None:
        if self._app is not None:
            self._app.close()
            self._app = None

    @property
    def app(self) -> App:
        assert self._app is not None, "the App lives in the worker thread while running"
        return self._app

    def _run(self, work: Callable[..., None], *args: Any) -> None:
        """An APScheduler job: queue the work for the worker thread unless it is queued already."""
        key = (work.__name__, *args)
        with self._pending_lock:
            if self._stopping.is_set() or key in self._pending:
                return
            self._pending.add(key)
        self._worker.submit(self._guarded, work, *args).add_done_callback(lambda _: self._done(key))

    def _done(self, key: tuple[Any, ...]) -> None:
        with self._pending_lock:
            self._pending.discard(key)

    def _guarded(self, work: Callable[..., None], *args: Any) -> None:
        """Run one job on the worker; a failing job is logged and the service carries on."""
        if self._stopping.is_set():
            return
        try:
            work(*args)
        except FetchInterrupted:
            log.info("job %s interrupted: stopping", work.__name__)
        except Exception:
            log.exception("job %s failed; it runs again on schedule", work.__name__)

    def _add_fixed_jobs(self) -> None:
        fixed = [
            ("config-watch", self._check_config, CONFIG_CHECK_SECONDS, CONFIG_CHECK_SECONDS * 5),
            ("plan-and-send", self._plan_and_send, PLAN_SECONDS, PLAN_SECONDS),
        ]
        for job_id, work, every, grace in fixed:
            self.scheduler.add_job(
                self._run,
                IntervalTrigger(seconds=every, timezone=self.zone),
                args=(work,),
                id=job_id,
                name=job_id,
                replace_existing=True,
                misfire_grace_time=grace,
            )

    def _sync_poll_jobs(self, config: Config) -> None:
        """One timer per distinct (interval, jitter): sources on the same schedule are polled by
        the same tick, in one poll run, so their news goes out in one immediate digest — as with
        ``run-once``. A timer still in use keeps its rhythm across reloads; new sources are
        polled at once (at start: every source, in one tick)."""
        wanted = {s.id: poll_schedule(s) for s in config.sources if s.enabled}
        for source_id in set(self._polls) - set(wanted):
            log.info("source %s: no longer polled", source_id)
        added = [source_id for source_id in wanted if source_id not in self._polls]
        for source_id, (every, jitter) in wanted.items():
            if self._polls.get(source_id) != (every, jitter):
                log.info(
                    "source %s: polled every %gs (+ up to %.1fs jitter)", source_id, every, jitter
                )
        old_schedules, new_schedules = set(self._polls.values()), set(wanted.values())
        self._polls = wanted
        for schedule in old_schedules - new_schedules:
            self.scheduler.remove_job(poll_job_id(schedule))
        for schedule in new_schedules - old_schedules:
            self._add_poll_job(*schedule)
        if added:
            self.poll_soon(*added)

    def _add_poll_job(self, every: float, jitter: float) -> None:
        self.scheduler.add_job(
            self._poll_timer,
            IntervalTrigger(seconds=every, jitter=jitter or None, timezone=self.zone),
            args=((every, jitter),),
            id=poll_job_id((every, jitter)),
            name=poll_job_id((every, jitter)),
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(every)),
        )

    def _poll_timer(self, schedule: tuple[float, float]) -> None:
        """A poll timer fired: every source on its schedule is due."""
        self.poll_soon(*(sid for sid, sched in self._polls.items() if sched == schedule))

    # -- jobs (run on the worker thread) ------------------------------------------------------

    def poll_soon(self, *source_ids: str) -> None:
        """A source's timer: mark it due and queue one tick, unless one is queued already.

        The queued tick polls every source marked by the time it starts, in one poll run; a
        source marked while a tick runs gets the next one. Thread-safe (scheduler threads).
        """
        with self._pending_lock:
            if self._stopping.is_set():
                return
            self._due.update(source_ids)
            if self._tick_queued:
                return
            self._tick_queued = True
        self._worker.submit(self._guarded, self._poll_due)

    def _poll_due(self) -> None:
        """One tick over the sources due now (run on the worker thread)."""
        with self._pending_lock:
            due, self._due, self._tick_queued = self._due, set(), False
        if due:
            self.app.tick(due)

    def _plan_and_send(self) -> None:
        """A tick that polls nothing: daily/weekly digests whose time has come (from the
        database, not from memory) are frozen, and deliveries waiting for a retry are sent."""
        self.app.tick(())

    def _check_config(self, force: bool = False) -> None:
        """Reload when the file changed (or on SIGHUP); an invalid edit keeps the last good config."""
        stamp = file_stamp(self.path)
        if stamp == self._stamp and not force:
            return
        if not force and stamp is not None and file_time_ns() - stamp[2] < QUIET_NS:
            return  # probably still being written (`>` truncates first): look again next time
        self._stamp = stamp
        try:
            config = configcache.load(self.path, keep=True, fresh=True)
        except ConfigError as exc:
            log.error("%s: invalid edit ignored, still running the last good config:", self.path)
            for problem in exc.problems:
                log.error("%s", problem)
            return
        if config.fingerprint == self.config.fingerprint:
            log.info("%s: unchanged, nothing to reload", self.path)
            return
        self._apply(config)

    def _apply(self, config: Config) -> None:
        if config.state_dir != self.config.state_dir:
            log.error(
                "%s: state_dir cannot change while running (%s → %s); edit ignored — restart instead",
                self.path,
                self.config.state_dir,
                config.state_dir,
            )
            return
        app = self._new_app(config)  # built first: if it fails, the old one runs on
        for setting in restart_only_changes(self.config, config):
            log.warning("%s changed: takes effect after a restart", setting)
        self._close_app()
        self._app, self.config = app, config
        lastgood.remember(config, self.clock())
        self._sync_poll_jobs(config)
        suppressed = app.store.suppressed()
        unsubscribed = [s.email for s in config.subscribers if s.email.lower() in suppressed]
        log.info(
            "config reloaded: %d source(s), %d subscriber(s)%s",
            len(self._polls),
            len(config.subscribers),
            f", {len(unsubscribed)} of them unsubscribed (not mailed)" if unsubscribed else "",
        )


@contextmanager
def signals_blocked() -> Iterator[None]:
    """Block the service's signals in this thread and every thread started inside the block."""
    old = signal.pthread_sigmask(signal.SIG_BLOCK, HANDLED_SIGNALS)
    try:
        yield
    finally:
        # A second Ctrl-C or TERM during shutdown must not kill us on the way out.
        while pending := signal.sigpending() & HANDLED_SIGNALS:
            signal.sigwait(pending)
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def wait_for_stop(service: Service) -> signal.Signals:
    """Serve signals until SIGTERM or SIGINT; SIGHUP reloads and keeps waiting."""
    while True:
        received = signal.Signals(signal.sigwait(HANDLED_SIGNALS))
        if received == signal.SIGHUP:
            service.request_reload()
            continue
        log.info("%s received: finishing the job in flight, then stopping", received.name)
        return received


def run_service(
    config_path: Path, *, out: TextIO | None = None, clock: Clock = system_clock
) -> int:
    """Run until SIGTERM/SIGINT; exits 0 after a clean stop.

    A bad config raises ConfigError (exit 2) and a second instance LockedError (exit 1) — both
    before anything starts.
    """
    config = configcache.load(config_path, keep=True, fresh=True)  # validated, and kept
    with StateLock(config.state_dir), signals_blocked():
        service = Service(config, clock=clock)
        try:
            service.start()
            if out is not None and service.health is not None:
                print(f"health: http://{config.service.listen}/healthz", file=out, flush=True)
            wait_for_stop(service)
        finally:
            service.stop()
    return 0
