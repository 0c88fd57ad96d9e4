"""Polling: from a source's listing to stored, tagged releases — exactly one scheduler tick's work.

The rules that keep the archive complete live here: a first poll is a silent baseline; after
downtime, listing pages are walked until a page holds only known releases (bounded); new
articles are fetched oldest first; one failing article never stops the others and is retried on
the next poll because it stays unknown; a listing that parses to nothing is a source failure.

An idle poll costs what a ``304`` costs. The first listing page is asked for conditionally
(``If-None-Match`` / ``If-Modified-Since``, RFC 9110 §13.1.2, §13.1.3) with the validators of
the last first page that was *fully* processed; a ``304 Not Modified`` (RFC 9110 §15.4.5) means
that page is byte-for-byte the one already processed (RFC 9111 §4.3), so nothing is parsed,
stored or classified. Validators are saved only by a successful poll, after every release of
that page was stored and its rows marked listed, and only when nothing is owed: a poll with an
article to retry, an unfinished title re-read or a ``Retry-After`` saves none, so the next poll
reads the page in full. A crash at any point before that leaves the previous validators, which
do not match the changed page. Later pages of a catch-up walk, articles, and backfill are never
conditional. A weak ETag is sent as it came (If-None-Match compares weakly, RFC 9110 §13.1.2); a
``Last-Modified`` too close to the answer's ``Date`` to be a strong validator is not kept (see
:mod:`monitor.fetch.http`); a server without validators gets a full read every poll.

Validators are trusted for :data:`FULL_READ_EVERY` only: a poll after that reads the first page
unconditionally (and saves its validators anew). A server whose validators do not follow its
content — a ``Last-Modified`` taken from a page template, an ETag a cache keeps across changes —
would otherwise answer ``304`` while news piles up unseen; with this rule such news is late by at
most that long, never lost (the walk that follows reads it like news after downtime).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import threading
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from monitor.clock import Clock, system_clock
from monitor.config import Config, SourceConfig
from monitor.errors import FetchError, ListingEmptyError, MonitorError, ParseError
from monitor.fetch.http import (
    Fetcher,
    FetchInterrupted,
    FetchResult,
    FetchSettings,
    RetryLaterError,
    build_user_agent,
)
from monitor.models import Article, Listing, ListingEntry, Release, SourceOutcome, release_id
from monitor.parse.urls import canonical_article_url, listing_page_url, parse_article_ref
from monitor.store.sqlite import Store

if TYPE_CHECKING:
    from monitor.classify.themes import Classifier

# The parsers, the summariser and the classifier are imported where they are used: an
# idle poll whose listing answers 304 needs none of them.

log = logging.getLogger(__name__)

#: How long validators saved by a full read are sent: the first poll after this reads the listing
#: unconditionally. One full read an hour costs ~16 KB; it bounds how late news can be when a
#: server answers ``304`` for a page that changed.
FULL_READ_EVERY = dt.timedelta(hours=1)

#: How long a listed row whose article keeps failing is fetched again directly (a row can slide
#: off the pages a poll walks before its article answers; after this it is taken as withdrawn).
OWED_RETRY = dt.timedelta(days=7)
#: The longest wait a ``Retry-After`` can impose on a source: a server asking for more (a
#: misconfigured "come back next year") is asked again after this.
MAX_RETRY_AFTER = dt.timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class PollReport:
    """The result of polling every source once."""

    run_id: int
    outcomes: tuple[SourceOutcome, ...]

    @property
    def new_count(self) -> int:
        """Releases stored for the first time (baseline included)."""
        return sum(len(o.new) for o in self.outcomes)

    @property
    def updated_count(self) -> int:
        """Known releases whose text changed."""
        return sum(len(o.updated) for o in self.outcomes)


@dataclass(frozen=True, slots=True)
class SourceMarks:
    """What a successful poll leaves on the source: the board's post count, feed validators."""

    total: int | None = None
    etag: str | None = None
    last_modified: str | None = None


def content_hash(title: str, body: str) -> str:
    """What "changed" means for a release: its title or its text, whitespace-insensitive."""
    canonical = " ".join(title.split()) + "\n" + " ".join(body.split())
    return hashlib.sha256(canonical.encode()).hexdigest()


def _seqs_by_board(listing: Listing) -> dict[str, set[int]]:
    by_board: dict[str, set[int]] = {}
    for entry in listing.entries:
        by_board.setdefault(entry.board, set()).add(entry.seq)
    return by_board


def fetch_settings(config: Config, source: SourceConfig) -> FetchSettings:
    """HTTP politeness for one source, from the service settings."""
    timeout = config.service.timeout.total_seconds()
    return FetchSettings(
        user_agent=build_user_agent(config.service.contact),
        connect_timeout=min(10.0, timeout),
        read_timeout=timeout,
        request_delay=config.service.request_delay.total_seconds(),
        max_body_bytes=config.service.max_body_bytes,
        respect_robots=config.service.respect_robots,
        encoding=source.encoding,
    )


class Poller:
    """Polls sources into the store; keeps one Fetcher (cookies, robots cache) per source."""

    def __init__(
        self,
        config: Config,
        store: Store,
        classifier: Classifier | Callable[[], Classifier],
        *,
        cancel: threading.Event | None = None,
        clock: Clock = system_clock,
    ) -> None:
        self.config = config
        self.store = store
        self.clock = clock
        # A factory is called on the first release to tag: an idle poll never builds the
        # classifier (compiling its rules costs most of a second).
        self._classifier: Classifier | None = None
        self._classifier_factory: Callable[[], Classifier] | None = None
        if hasattr(classifier, "classify"):  # a Classifier, not a factory
            self._classifier = classifier  # type: ignore[assignment]
        else:
            self._classifier_factory = classifier
        self.cancel = cancel  # set by the service when stopping: requests in flight end at once
        self._fetchers: dict[str, tuple[FetchSettings, Fetcher]] = {}
        #: Called with a line per listing page of a long poll or backfill (the CLI prints them).
        self.progress: Callable[[str], None] | None = None

    @property
    def classifier(self) -> Classifier:
        """The classifier, built by the factory on first use."""
        if self._classifier is None:
            assert self._classifier_factory is not None
            self._classifier = self._classifier_factory()
        return self._classifier

    def close(self) -> None:
        """Close every HTTP session."""
        for _, fetcher in self._fetchers.values():
            fetcher.close()
        self._fetchers.clear()

    def fetcher(self, source: SourceConfig) -> Fetcher:
        """The source's fetcher, rebuilt when its settings changed (config reload)."""
        settings = fetch_settings(self.config, source)
        current = self._fetchers.get(source.id)
        if current is None or current[0] != settings:
            if current is not None:
                current[1].close()
            fetcher = Fetcher(
                settings, cancel=self.cancel, robots_store=self.store, wall=self.clock
            )
            current = (settings, fetcher)
            self._fetchers[source.id] = current
        return current[1]

    def poll_all(
        self, sources: Collection[str] | None = None, *, baseline_only: bool = False
    ) -> PollReport:
        """Poll the enabled sources (those whose id is in ``sources``, or all) once, in one run.

        A failing source never stops the others.
        """
        run_id = self.store.start_poll_run()
        outcomes = tuple(
            self.poll(source, run_id, baseline_only=baseline_only)
            for source in self.config.sources
            if source.enabled and (sources is None or source.id in sources)
        )
        report = PollReport(run_id, outcomes)
        self.store.finish_poll_run(run_id, report.new_count, report.updated_count)
        return report

    def poll(
        self, source: SourceConfig, run_id: int | None, *, baseline_only: bool = False
    ) -> SourceOutcome:
        """Poll one source, recording its health; never raises for a source-level failure.

        A source the server asked to wait (``Retry-After``) is not asked again before that
        time: the outcome is ``deferred`` and nothing is requested. Any unexpected exception
        is a failure of the source (logged with its traceback, counted, shown in ``status``),
        never a silent loop. Only :class:`~monitor.fetch.http.FetchInterrupted` (stopping) escapes.
        """
        health = self.store.ensure_source(source.id, source.kind, source.url)
        first_poll = health.baseline_at is None
        outcome = SourceOutcome(source.id, baseline=baseline_only or first_poll)
        notes = self.store.source_notes(source.id)
        now = self.clock()
        # Fresh only inside [0, FULL_READ_EVERY): a clock stepped back does not extend the trust.
        age = now - health.validated_at if health.validated_at is not None else None
        fresh = age is not None and dt.timedelta(0) <= age < FULL_READ_EVERY
        validators = (
            SourceMarks(etag=health.etag, last_modified=health.last_modified)
            if fresh
            else SourceMarks()
        )
        if notes.wait_until is not None and notes.wait_until > now:
            outcome.deferred = True
            outcome.consecutive_failures = health.consecutive_failures
            outcome.error = (
                f"not polled: the server asked us to wait until "
                f"{notes.wait_until:%Y-%m-%d %H:%M:%S} UTC ({notes.wait_reason or 'Retry-After'})"
            )
            log.info("source %s: %s", source.id, outcome.error)
            return outcome
        try:
            if source.kind == "mofa-rss":
                marks = self._poll_feed(
                    source, outcome, run_id, validators.etag, validators.last_modified
                )
            else:
                marks = self._poll_board(
                    source,
                    outcome,
                    run_id,
                    first_poll,
                    health.baseline_at,
                    validators,
                )
        except FetchInterrupted:
            log.info("source %s: poll interrupted (stopping)", source.id)
            raise
        except MonitorError as exc:
            if isinstance(exc, RetryLaterError):
                outcome.retry_later = exc
            return self._failed(source, outcome, str(exc), isinstance(exc, ListingEmptyError))
        except Exception as exc:  # a bug or a page we did not foresee: the source fails, loudly
            log.exception("source %s: unexpected error while polling", source.id)
            return self._failed(source, outcome, f"internal error: {type(exc).__name__}: {exc}")
        self.store.record_poll_success(
            source.id,
            total=marks.total,
            etag=marks.etag,
            last_modified=marks.last_modified,
            baseline=True,
            revalidated=not outcome.not_modified,
        )
        if not outcome.not_modified:  # an unchanged listing keeps the problems it had
            self.store.set_item_problems(source.id, outcome.item_problems)
        self._set_wait(source, outcome.retry_later)
        log.info(
            "source %s: %d new%s, %d updated, %d article(s) to retry, %d page(s)%s%s",
            source.id,
            len(outcome.new),
            " (baseline, not mailed)" if outcome.baseline else "",
            len(outcome.updated),
            len(outcome.article_failures),
            outcome.pages,
            f", {len(outcome.item_problems)} item(s) skipped or unreadable"
            if outcome.item_problems
            else "",
            " (not modified: 304)" if outcome.not_modified else "",
        )
        return outcome

    def _failed(
        self, source: SourceConfig, outcome: SourceOutcome, error: str, empty: bool = False
    ) -> SourceOutcome:
        outcome.error = error
        outcome.listing_empty = empty
        outcome.consecutive_failures = self.store.record_poll_failure(source.id, error)
        self._set_wait(source, outcome.retry_later)
        log.error(
            "source %s failed (%d in a row): %s", source.id, outcome.consecutive_failures, error
        )
        return outcome

    def _set_wait(self, source: SourceConfig, retry_later: RetryLaterError | None) -> None:
        """Remember (or clear) the time before which the server asked not to be asked again."""
        if retry_later is None:
            if self.store.source_notes(source.id).wait_until is not None:
                self.store.set_wait(source.id, None)
            return
        asked = dt.timedelta(seconds=max(0.0, retry_later.seconds))
        wait = min(asked, MAX_RETRY_AFTER)
        until = self.clock() + wait
        note = f"Retry-After {asked.total_seconds():.0f} s" + (
            f", capped at {MAX_RETRY_AFTER.total_seconds():.0f} s" if wait < asked else ""
        )
        self.store.set_wait(source.id, until, note)
        log.warning(
            "source %s: not polled again before %s UTC (%s)", source.id, f"{until:%H:%M:%S}", note
        )

    # -- boards: listing pages + article pages -------------------------------------------------

    def _poll_board(
        self,
        source: SourceConfig,
        outcome: SourceOutcome,
        run_id: int | None,
        first_poll: bool,
        baseline_at: dt.datetime | None = None,
        validators: SourceMarks | None = None,
    ) -> SourceMarks:
        """Walk listing pages while news may continue onto the next one, then fetch articles.

        ``validators`` are those the last complete poll saved: the first page is asked for
        conditionally with them and, when the server answers ``304``, nothing else is done
        (see the module's docstring). The marks returned carry the first page's validators
        only when this poll left nothing owed, else none.

        A page's last row tells: if it was listed before, everything below it is old, so the walk
        stops. (Stopping only at a page of *known* rows would, after a baseline of one page,
        take the never-listed older rows on page 2 for news and flood subscribers.) Rows not
        stored yet — new ones, and earlier article failures — are fetched, oldest first; an
        earlier failure that slid below the walked pages is fetched by its URL, and one listed
        by the baseline poll is stored as baseline (never mailed).
        """
        max_pages = 1 if first_poll else (source.max_pages or self.config.service.max_pages)
        pending: dict[tuple[str, int], ListingEntry] = {}
        walked: list[tuple[str, int]] = []
        total = None
        asked = validators if validators is not None and not first_poll else SourceMarks()
        first_page = self._first_listing_page(source, asked)
        if first_page is None:  # 304: the page last processed in full, unchanged
            outcome.pages = 1
            outcome.not_modified = True
            return asked
        complete = True  # nothing owed: the first page's validators may be saved
        pages = self._listing_pages(source, max_pages, first_page[0])
        for number, listing in enumerate(pages, start=1):
            outcome.pages = number
            outcome.item_problems.extend(listing.problems)
            total = listing.total if total is None else total
            complete = self._check_titles(source, listing, outcome) and complete
            if outcome.retry_later is not None:
                # Asked to wait while re-reading a title: stop asking, and mark nothing as
                # listed, so the next poll walks these pages again from the top.
                break
            unknown = self._unknown(listing)
            for entry in listing.entries:
                if entry.seq in unknown.get(entry.board, set()):
                    pending.setdefault((entry.board, entry.seq), entry)
            bottom = listing.entries[-1]
            reached_old = bottom.seq in self.store.listed_seqs(bottom.board, [bottom.seq])
            walked += [(e.board, e.seq) for e in listing.entries]
            if self.progress and (pending or number > 1):
                self.progress(
                    f"{source.id}: listing page {number}: {len(listing.entries)} rows, "
                    f"{len(pending)} release(s) to fetch so far"
                )
            if reached_old:
                break
        else:
            if not first_poll and outcome.pages >= max_pages:  # not when the board ended first
                log.warning(
                    "source %s: news may continue past page %d; raise max_pages or run backfill",
                    source.id,
                    max_pages,
                )
        owed = self.store.owed_listings({board for board, _ in walked})
        cutoff = self.clock() - OWED_RETRY
        slid = [
            ListingEntry(board, seq, "", None, canonical_article_url(source.url, board, seq))
            for (board, seq), listed_at in sorted(owed.items(), key=lambda kv: (kv[1], kv[0]))
            if (board, seq) not in pending and listed_at > cutoff
        ]
        if self.progress and len(slid) + len(pending) > 1:
            self.progress(f"{source.id}: fetching {len(slid) + len(pending)} release pages…")
        for entry in [*slid, *reversed(list(pending.values()))]:  # listings are newest first
            listed_at = owed.get((entry.board, entry.seq))
            in_baseline = (
                listed_at is not None and baseline_at is not None and listed_at <= baseline_at
            )
            self._store_from_article(source, entry, outcome, run_id, baseline=in_baseline)
        self.store.mark_listed(walked)
        if not complete or outcome.article_failures or outcome.retry_later is not None:
            return SourceMarks(total=total)  # something is owed: the next poll reads in full
        validated = first_page[1]
        return SourceMarks(total, validated.etag, validated.last_modified)

    def _first_listing_page(
        self, source: SourceConfig, validators: SourceMarks
    ) -> tuple[FetchResult, SourceMarks] | None:
        """The first listing page and its validators, or None when the server answered ``304
        Not Modified`` to the conditional request made with ``validators``."""
        result = self.fetcher(source).get(
            listing_page_url(source.url, 1),
            etag=validators.etag,
            last_modified=validators.last_modified,
            expect="html",
        )
        if result.not_modified:
            return None
        return result, SourceMarks(etag=result.etag, last_modified=result.last_modified)

    def _listing_pages(
        self, source: SourceConfig, max_pages: int, first: FetchResult
    ) -> Iterator[Listing]:
        """The parsed listing pages, from ``first`` (already fetched) on, never conditional."""
        from monitor.parse import board

        fetcher = self.fetcher(source)
        for page in range(1, max_pages + 1):
            url = listing_page_url(source.url, page)
            result = first if page == 1 else fetcher.get(url, expect="html")
            try:
                yield board.parse_listing(result.text or "", url)
            except ListingEmptyError:
                if page == 1:
                    raise ListingEmptyError(
                        f"{url}: the listing answered but holds no releases — the site or its markup "
                        "changed (this is not 'no news')"
                    ) from None
                return  # past the last page of the board

    def _unknown(self, listing: Listing) -> dict[str, set[int]]:
        by_board = _seqs_by_board(listing)
        return {b: seqs - self.store.known_seqs(b, seqs) for b, seqs in by_board.items()}

    def _check_titles(self, source: SourceConfig, listing: Listing, outcome: SourceOutcome) -> bool:
        """A known release whose listing title changed is re-read: the ministry corrected it.

        Returns whether every such re-read was done (one that failed is tried next poll, which
        therefore must not be skipped by a ``304``)."""
        done = True
        stored = {
            (board, seq): title
            for board, seqs in _seqs_by_board(listing).items()
            for seq, title in self.store.stored_titles(board, seqs).items()
        }
        for entry in listing.entries:
            title = stored.get((entry.board, entry.seq))
            if title is not None and " ".join(title.split()) != " ".join(entry.title.split()):
                try:
                    article = self._article(source, entry)
                except RetryLaterError as exc:
                    outcome.retry_later = exc
                    return False
                except MonitorError as exc:
                    log.warning(
                        "source %s: cannot re-read changed %s: %s", source.id, entry.url, exc
                    )
                    done = False
                    continue
                self._store_release(source, self._release(source, article), outcome, None, False)
        return done

    def _article(self, source: SourceConfig, entry: ListingEntry) -> Article:
        """The article of a listing row; its identity is the row's, whatever the site answers.

        A redirect to another release's page (another board or seq) is a failure of this row,
        not a new release: storing it would duplicate that release under the wrong seq.
        """
        from monitor.parse import board

        result = self.fetcher(source).get(entry.url, expect="html")
        answered = parse_article_ref(result.url)
        if answered is not None and answered != (entry.board, entry.seq):
            raise ParseError(
                f"{entry.url}: redirected to another release ({answered[0]} seq {answered[1]}, "
                f"{result.url}); not stored under {entry.board} seq {entry.seq}"
            )
        article = board.parse_article(result.text or "", entry.url, fetched_url=result.url)
        if article.date is None and entry.date is not None:
            article = replace(article, date=entry.date)
        return article

    def _store_from_article(
        self,
        source: SourceConfig,
        entry: ListingEntry,
        outcome: SourceOutcome,
        run_id: int | None,
        *,
        baseline: bool = False,
    ) -> None:
        if outcome.retry_later is not None:  # the server asked us to wait: ask nothing more
            outcome.article_failures.append(entry.url)
            return
        try:
            article = self._article(source, entry)
        except RetryLaterError as exc:
            outcome.retry_later = exc
            outcome.article_failures.append(entry.url)
            log.warning("source %s: %s; remaining articles wait for a later poll", source.id, exc)
            return
        except FetchInterrupted:
            raise
        except (FetchError, ParseError) as exc:
            outcome.article_failures.append(entry.url)
            log.warning(
                "source %s: article %s failed, will retry next poll: %s", source.id, entry.url, exc
            )
            return
        self._store_release(
            source, self._release(source, article), outcome, run_id, outcome.baseline or baseline
        )

    def backfill(
        self,
        source: SourceConfig,
        since: dt.date,
        *,
        progress: Callable[[int, int, int], None] | None = None,
        max_pages: int = 500,
    ) -> SourceOutcome:
        """Walk the board's date-filtered listing back to ``since`` and store what is missing, unmailed."""
        from monitor.parse import board, feed

        outcome = SourceOutcome(source.id, baseline=True)
        self.store.ensure_source(source.id, source.kind, source.url)
        fetcher = self.fetcher(source)
        missing: dict[tuple[str, int], ListingEntry] = {}
        for page in range(1, max_pages + 1):
            url = listing_page_url(
                source.url, page, since, self.clock().astimezone(feed.KST).date()
            )
            try:
                listing = board.parse_listing(fetcher.get(url, expect="html").text or "", url)
            except ListingEmptyError:
                break
            outcome.pages = page
            unknown = self._unknown(listing)
            in_range = [e for e in listing.entries if e.date is None or e.date >= since]
            for entry in in_range:
                if entry.seq in unknown.get(entry.board, set()):
                    missing.setdefault((entry.board, entry.seq), entry)
            if progress:
                progress(page, len(listing.entries), len(missing))
            if len(in_range) < len(listing.entries):  # the site ignored the filter; dates went past
                break
        if self.progress and missing:
            self.progress(f"{source.id}: fetching {len(missing)} release pages…")
        for entry in reversed(list(missing.values())):
            self._store_from_article(source, entry, outcome, None)
        # Only stored rows: a failed one must not be retried by polls, which would mail it as news.
        self.store.mark_listed(key for key in missing if self.store.stored_version(*key))
        return outcome

    # -- feeds ---------------------------------------------------------------------------------

    def _poll_feed(
        self,
        source: SourceConfig,
        outcome: SourceOutcome,
        run_id: int | None,
        etag: str | None,
        last_modified: str | None,
    ) -> SourceMarks:
        result = self.fetcher(source).get(
            source.url, etag=etag, last_modified=last_modified, expect="xml"
        )
        outcome.pages = 1
        if result.not_modified:
            outcome.not_modified = True
            return SourceMarks(etag=etag, last_modified=last_modified)
        from monitor.parse import feed

        listing = feed.parse_feed(result.text or "", source.url)
        outcome.item_problems.extend(listing.problems)
        for entry in sorted(listing.entries, key=lambda e: (e.date or dt.date.min, e.seq)):
            article = Article(
                entry.board, entry.seq, entry.title, entry.date, entry.url, entry.body or ""
            )
            self._store_release(
                source, self._release(source, article), outcome, run_id, outcome.baseline
            )
        return SourceMarks(etag=result.etag, last_modified=result.last_modified)

    # -- storing -------------------------------------------------------------------------------

    def _release(self, source: SourceConfig, article: Article) -> Release:
        from monitor.classify.summarize import summarize

        return Release(
            id=release_id(article.board, article.seq),
            source=source.id,
            board=article.board,
            seq=article.seq,
            title=article.title,
            date=article.date,
            url=article.url,
            body=article.body,
            summary=summarize(article.body),
            attachments=article.attachments,
            image_only=article.image_only,
        )

    def _store_release(
        self,
        source: SourceConfig,
        release: Release,
        outcome: SourceOutcome,
        run_id: int | None,
        baseline: bool,
    ) -> None:
        digest = content_hash(release.title, release.body)
        stored = self.store.stored_version(release.board, release.seq)
        if stored is not None and stored.content_hash == digest:
            return
        classification = self.classifier.classify(release.title, release.body)
        if stored is None:
            self.store.insert_release(
                release,
                content_hash=digest,
                baseline=baseline,
                poll_run_id=run_id,
                classification=classification,
            )
            outcome.new.append(release.id)
        else:
            revision = self.store.update_release(
                stored.row_id, release, content_hash=digest, classification=classification
            )
            outcome.updated.append(release.id)
            log.info("source %s: %s changed (revision %d)", source.id, release.id, revision)
