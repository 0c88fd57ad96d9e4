"""Load and validate the TOML configuration, whole, before anything runs.

A typo must fail at start with a message naming the file, the field and the rule — never at 03:00
when the first digest is sent. Every problem is collected and reported at once as
``FILE: dotted.path: message``; list positions count from 1, as a person reads the file.
Paths in the file are relative to the file's folder, so a service and a shell agree on them.

The config is plain frozen dataclasses (:class:`Config` and its sections). Their annotations
carry the rules (:class:`Before`, :class:`After`, :class:`Bounds`), which pydantic reads when a
file is validated (:func:`validate`, :func:`load_config`); nothing else imports pydantic, so a
config validated earlier, unchanged, loads without it (:mod:`monitor.ops.configcache`).
"""

from __future__ import annotations

import codecs
import dataclasses
import datetime as dt
import difflib
import hashlib
import ipaddress
import os
import re
import tomllib
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.data import default_theme_ids
from monitor.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler, ValidationError
    from pydantic_core import CoreSchema

#: The packaged theme ids (``monitor/data/themes.toml``), the ones a subscriber may follow.
DEFAULT_THEME_IDS = default_theme_ids()
DEFAULT_SOURCE_URL = "https://www.mofa.go.kr/eng/brd/m_5676/list.do"
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
_LOCAL_OR_EMAIL = re.compile(r"^[^@\s<>()\[\],;:\"]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_LISTEN = re.compile(r"(?P<host>\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):(?P<port>\d{1,5})")
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def parse_duration(value: Any) -> dt.timedelta:
    """Read ``"0s"``, ``"2s"``, ``"15m"``, ``"1h"``, ``"1h30m"`` or ``"500ms"`` as a timedelta."""
    if isinstance(value, dt.timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError('must be a duration such as "30s", "15m" or "1h"')
    text = value.strip().lower()
    parts = _DURATION.findall(text)
    if not text or _DURATION.sub("", text).strip():
        raise ValueError(f'{value!r} is not a duration; use e.g. "30s", "15m", "1h"')
    unit_seconds = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    return dt.timedelta(seconds=sum(float(n) * unit_seconds[u] for n, u in parts))


def check_zone(value: Any) -> Any:
    """An IANA zone name the zone database here knows (``TZPATH``, ``tzdata``), as it is;
    ValueError naming it otherwise. A non-string is left to the type check."""
    if not isinstance(value, str):
        return value
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: "America" is a folder
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Asia/Seoul)"
        ) from None
    return value


def check_email(value: str) -> str:
    """An addr-spec a mail header can hold, stripped; ValueError naming the value otherwise."""
    from email.errors import HeaderParseError
    from email.headerregistry import Address

    if not isinstance(value, str) or not _EMAIL.match(value.strip()):
        raise ValueError(f"{value!r} is not an e-mail address")
    try:  # what a mail header must be able to hold, e.g. no "a..b@" local parts
        Address(addr_spec=value.strip())
    except (ValueError, IndexError, HeaderParseError):
        raise ValueError(f"{value!r} is not an e-mail address") from None
    return value.strip()


def _check_mailbox(value: str) -> str:
    """A From-style mailbox: ``addr`` or ``Display Name <addr>``."""
    _name, addr = parseaddr(value if isinstance(value, str) else "")
    if not addr or not _LOCAL_OR_EMAIL.match(addr) or any(c in value for c in "\r\n"):
        raise ValueError(f"{value!r} is not a mailbox like 'Name <addr@example.org>'")
    return value.strip()


def _check_time_of_day(value: Any) -> dt.time:
    if isinstance(value, dt.time):
        return value
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", str(value).strip())
    if not match:
        raise ValueError(f'{value!r} is not a time of day "HH:MM"')
    return dt.time(int(match[1]), int(match[2]))


def _check_url(value: str) -> str:
    """An absolute ``http``/``https`` URL that every layer below accepts as it is.

    RFC 3986 §3 syntax as three parsers read it: :func:`urllib.parse.urlsplit` (host, and a
    port that must be a number in 1–65535, RFC 6335 §6), urllib3's ``parse_url`` (what
    ``requests`` sends) and pydantic's URL type (the WHATWG URL rules: host and IDNA checks).
    The string is kept as written; only the check is shared.
    """
    if not isinstance(value, str):
        raise ValueError("must be a string")
    problem = _url_problem(value)
    if problem:
        raise ValueError(f"{value!r} is not a usable http(s) URL: {problem}")
    return value


def _url_problem(value: str) -> str | None:
    """Why ``value`` is not a usable http(s) URL, or None."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return "it contains spaces or control characters"
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError for "abc" and for numbers out of 0–65535
    except ValueError as exc:
        if "port" not in str(exc).lower():
            return str(exc)
        port_text = urlsplit(value).netloc.rpartition(":")[2]
        return f"the port must be a number from 1 to 65535, not {port_text!r}"
    if parts.scheme not in ("http", "https"):
        return "the scheme must be http or https"
    if not parts.hostname:
        return "there is no host"
    if port == 0 or (parts.port is None and parts.netloc.endswith(":")):
        return "the port must be a number from 1 to 65535"
    from pydantic import AnyHttpUrl, ValidationError
    from urllib3.exceptions import LocationParseError
    from urllib3.util import parse_url

    try:
        parse_url(value)
        _adapter(AnyHttpUrl).validate_python(value)
    except (LocationParseError, ValidationError) as exc:
        detail = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else "bad syntax"
        return detail.removeprefix("Input should be a valid URL, ")
    return None


def _check_header_text(value: Any) -> Any:
    """Text sent in an HTTP header field as it is: printable ASCII only.

    RFC 9110 §5.5: a field value is visible ASCII, spaces and tabs (CR/LF would end the
    field; other bytes are "obs-text" that ``requests`` cannot even encode beyond Latin-1).
    """
    if isinstance(value, str):
        bad = next((c for c in value if not " " <= c <= "~"), None)
        if bad is not None:
            raise ValueError(
                f"{value!r} goes into the User-Agent header, which carries printable ASCII "
                f"only (RFC 9110 §5.5), not {bad!r}; e.g. an e-mail address or an https URL"
            )
    return value


def _check_path(value: Any) -> Any:
    """A file-system path the OS can open: no NUL character (POSIX paths end at NUL)."""
    if isinstance(value, str) and "\0" in value:
        raise ValueError(f"{value!r} contains a NUL character, which no file name can")
    return value


def _check_host(value: Any) -> Any:
    """A host name or IP address (RFC 1123 §2.1 / RFC 3986 §3.2.2), as SMTP connects to it."""
    if isinstance(value, str):
        try:
            ipaddress.ip_address(value)
            return value
        except ValueError:
            pass
        if not value or _url_problem(f"http://{value}/") or ":" in value:
            raise ValueError(f"{value!r} is not a host name or IP address")
    return value


def _check_slug(value: Any) -> Any:
    if isinstance(value, str) and not _SLUG.match(value):
        raise ValueError(f"{value!r} must be lower-case letters, digits and dashes")
    return value


def _check_plain_text(value: Any) -> Any:
    """Text a person wrote for display (a name, a keyword, a subject prefix): no control, bidi
    or line-separator character, which would drive the terminal or mail reader showing it
    (the set :mod:`monitor.ops.terminal` escapes, plus tab and newline)."""
    from monitor.ops.terminal import unsafe_characters

    if isinstance(value, str) and (bad := unsafe_characters(value)):
        raise ValueError(
            f"{value!r} contains control or bidi characters ({', '.join(bad)}); write plain text"
        )
    return value


class Before:
    """Run ``check`` on the raw value before the type's own validation (annotation metadata).

    The config classes are plain dataclasses; pydantic reads this through its documented
    ``__get_pydantic_core_schema__`` hook when it validates a file, so importing this module
    (and loading a cached config, :mod:`monitor.ops.configcache`) does not import pydantic.
    """

    def __init__(self, check: Callable[[Any], Any]) -> None:
        self.check = check

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_before_validator_function(self.check, handler(source))


class After:
    """Run ``check`` on the value the type produced; ``with_context`` passes the validation
    context too (``check(value, context_dict)``)."""

    def __init__(self, check: Callable[..., Any], *, with_context: bool = False) -> None:
        self.check, self.with_context = check, with_context

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        if self.with_context:
            check = self.check
            return core_schema.with_info_after_validator_function(
                lambda value, info: check(value, info.context or {}), handler(source)
            )
        return core_schema.no_info_after_validator_function(self.check, handler(source))


class Bounds:
    """Numeric limits (``ge``, ``gt``, ``le``), as pydantic's int and float schemas take them."""

    def __init__(self, **limits: float) -> None:
        self.limits = limits

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema: dict[str, Any] = dict(handler(source))
        schema.update(self.limits)
        return typing.cast("CoreSchema", schema)


PlainText = Annotated[str, Before(_check_plain_text)]
Duration = Annotated[dt.timedelta, Before(parse_duration)]
TimeZone = Annotated[str, Before(check_zone)]
Email = Annotated[str, Before(check_email)]
Slug = Annotated[str, Before(_check_slug)]
HttpUrl = Annotated[str, Before(_check_url)]
HeaderText = Annotated[str, Before(_check_header_text)]
FsPath = Annotated[Path, Before(_check_path)]
HostName = Annotated[str, Before(_check_host)]

#: How every config class is validated: an unknown key is an error, never silently ignored.
_STRICT = {"extra": "forbid"}


def _listen_is_host_port(value: str | None) -> str | None:
    """``HOST:PORT`` with a port the kernel can bind (0 = any free port, as for bind(2))."""
    if value is None:
        return value
    match = _LISTEN.fullmatch(value)
    if not match:
        raise ValueError(f'{value!r} must be "HOST:PORT", e.g. "127.0.0.1:8787"')
    if int(match["port"]) > 65535:
        raise ValueError(f"{value!r}: port {int(match['port'])} is out of range 0–65535")
    host = match["host"]
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise ValueError(f"{value!r}: {host} is not an IPv6 address") from None
    elif _url_problem(f"http://{host}/"):
        raise ValueError(f"{value!r}: {host!r} is not a host name or address")
    return value


@dataclass(frozen=True, kw_only=True)
class ServiceConfig:
    """How the service runs: where state lives, how politely it fetches, how it is watched."""

    __pydantic_config__ = _STRICT

    state_dir: FsPath = Path("state")
    request_delay: Duration = dt.timedelta(seconds=1)
    timeout: Duration = dt.timedelta(seconds=30)
    max_body_bytes: Annotated[int, Bounds(gt=0)] = 5_000_000
    max_pages: Annotated[int, Bounds(ge=1, le=1000)] = 10
    respect_robots: bool = True
    contact: HeaderText | None = None
    timezone: TimeZone = "Asia/Seoul"
    listen: Annotated[str | None, After(_listen_is_host_port)] = None
    admin_email: Email | None = None
    alert_after: Annotated[int, Bounds(ge=1)] = 3


def _known_encoding(value: str | None) -> str | None:
    if value is not None:
        try:
            codecs.lookup(value)
        except LookupError:
            raise ValueError(f"unknown encoding {value!r}") from None
    return value


def _positive_interval(value: dt.timedelta) -> dt.timedelta:
    if value.total_seconds() < 1:
        raise ValueError("must be at least 1s")
    return value


@dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """One board to follow; ``url`` may point at a mirror or a local test server."""

    __pydantic_config__ = _STRICT

    id: Slug
    kind: Literal["mofa-board", "mofa-rss"] = "mofa-board"
    url: HttpUrl
    name: PlainText | None = None
    every: Annotated[Duration, After(_positive_interval)] = dt.timedelta(minutes=15)
    jitter: Duration | None = None
    encoding: Annotated[str | None, After(_known_encoding)] = None
    max_pages: Annotated[int, Bounds(ge=1, le=1000)] | None = None
    enabled: bool = True


@dataclass(frozen=True, kw_only=True)
class SmtpConfig:
    """SMTP relay settings; the password only ever comes from the environment."""

    __pydantic_config__ = _STRICT

    host: HostName = "localhost"
    port: Annotated[int, Bounds(ge=1, le=65535)] = 25
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str | None = None
    password_env: str | None = None
    timeout: Duration = dt.timedelta(seconds=30)
    ca_file: FsPath | None = None

    def password(self) -> str | None:
        """The secret, read at use time so it never sits in the config object or a log."""
        return os.environ.get(self.password_env) if self.password_env else None


def _auth_needs_password(smtp: SmtpConfig) -> SmtpConfig:
    if smtp.username and not smtp.password_env:
        raise ValueError(
            "username is set but password_env (the variable holding the password) is not"
        )
    return smtp


def _no_fragment(value: str | None) -> str | None:
    # A fragment never reaches the server (RFC 3986 §3.5), and a one-click POST (RFC 8058)
    # has no use for one: refusing it keeps the token's place in the query unambiguous.
    if value is not None and "#" in value:
        raise ValueError(f"{value!r} has a #fragment, which is never sent to the server: remove it")
    return value


@dataclass(frozen=True, kw_only=True)
class MailConfig:
    """Where digests go and how they identify themselves. ``from_`` is the file's ``from``."""

    __pydantic_config__ = _STRICT

    from_: Annotated[str, After(_check_mailbox)] = "MOFA Monitor <monitor@localhost>"
    transport: Literal["maildir", "smtp"] = "maildir"
    maildir: FsPath | None = None
    subject_prefix: PlainText = "MOFA digest"
    unsubscribe_url: Annotated[HttpUrl | None, After(_no_fragment)] = None
    unsubscribe_secret_env: str | None = None
    smtp: Annotated[SmtpConfig, After(_auth_needs_password)] = field(default_factory=SmtpConfig)


def _weekday(value: Any) -> str:
    text = str(value).strip().lower()
    match = [day for day in _WEEKDAYS if len(text) >= 3 and day.startswith(text)]
    if not match:
        raise ValueError("must be one of " + ", ".join(_WEEKDAYS) + suggest(text, _WEEKDAYS))
    return match[0]


def _known_themes(values: list[str] | None, context: dict[str, Any]) -> list[str] | None:
    known = context.get("theme_ids", DEFAULT_THEME_IDS)
    unknown = [theme for theme in values or () if theme not in known]
    if len(unknown) == 1 and (hint := suggest(unknown[0], known)):
        raise ValueError(f"unknown theme {unknown[0]!r}{hint}")
    if unknown:
        named = ", ".join(f"{t!r}{_hint_in_parentheses(t, known)}" for t in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise ValueError(f"unknown theme{plural} {named}; known: {', '.join(sorted(known))}")
    return values


def _iso_codes(values: list[str]) -> list[str]:
    """Codes the classifier can tag (``monitor/data/countries.toml``): any other code,
    ``KR`` included, would silently filter out every release."""
    from monitor.classify.countries import known_codes

    codes = known_codes()
    problems = []
    for code in values:
        upper = code.strip().upper()
        if upper in codes:
            continue
        if upper == "KR":
            problems.append(
                "'KR': releases are by and about Korea, so none is tagged with it; "
                "list the other countries you follow"
            )
            continue
        by_name = [
            c
            for c, names in codes.items()
            if code.strip().casefold() in (n.casefold() for n in names)
        ]
        hint = f"; did you mean {by_name[0]!r} ({codes[by_name[0]][0]})?" if by_name else ""
        problems.append(f"{code!r} is not an ISO 3166-1 alpha-2 code like 'KP'{hint}")
    if problems:
        raise ValueError("; ".join(problems))
    return [code.strip().upper() for code in values]


@dataclass(frozen=True, kw_only=True)
class SubscriberConfig:
    """One reader: what they follow, how often, in which zone and format."""

    __pydantic_config__ = _STRICT

    email: Email
    name: PlainText | None = None
    themes: Annotated[list[str] | None, After(_known_themes, with_context=True)] = None
    keywords: list[PlainText] = field(default_factory=list)
    exclude: list[PlainText] = field(default_factory=list)
    countries: Annotated[list[str], After(_iso_codes)] = field(default_factory=list)
    frequency: Literal["immediate", "daily", "weekly"] = "daily"
    send_at: Annotated[dt.time, Before(_check_time_of_day)] = dt.time(8, 0)
    weekday: Annotated[str, Before(_weekday)] = "monday"
    timezone: TimeZone = "Asia/Seoul"
    format: Literal["html", "text"] = "html"
    updates: bool = True
    send_empty: bool = False

    @property
    def weekday_index(self) -> int:
        """Monday is 0, as in :meth:`datetime.date.weekday`."""
        return _WEEKDAYS.index(self.weekday)


@dataclass(frozen=True, kw_only=True)
class ThemeConfig:
    """A user-defined theme, or extra/replacement patterns for a built-in one."""

    __pydantic_config__ = _STRICT

    id: Slug
    name: PlainText | None = None
    description: PlainText | None = None
    patterns: list[str] = field(default_factory=list)
    mode: Literal["extend", "replace"] = "extend"
    weights: dict[str, float] | None = None
    threshold: Annotated[float, Bounds(gt=0)] | None = None


def _default_sources() -> list[SourceConfig]:
    return [SourceConfig(id="mofa-en", url=DEFAULT_SOURCE_URL)]


@dataclass(frozen=True, kw_only=True)
class Config:
    """The whole validated configuration; ``path`` is the file it came from and
    ``fingerprint`` the SHA-256 (hex) of its bytes. Build one with :func:`load_config` or
    :func:`validate`: the constructor itself checks nothing."""

    __pydantic_config__ = _STRICT

    service: ServiceConfig = field(default_factory=ServiceConfig)
    sources: list[SourceConfig] = field(default_factory=_default_sources)
    mail: Annotated[MailConfig, Before(_from_key)] = field(default_factory=MailConfig)
    subscribers: list[SubscriberConfig] = field(default_factory=list)
    themes: list[ThemeConfig] = field(default_factory=list)
    path: Path = Path("config.toml")
    fingerprint: str = ""

    @property
    def state_dir(self) -> Path:
        """Absolute state folder (database, lock, default outbox)."""
        return self.service.state_dir

    @property
    def maildir(self) -> Path:
        """The Maildir that receives digests when ``transport = "maildir"``."""
        return self.mail.maildir or self.service.state_dir / "outbox"

    def subscriber(self, email: str) -> SubscriberConfig | None:
        """The subscriber with this address, compared case-insensitively (the first one listed,
        should two share it). A dict lookup: a send pass asks once per delivery."""
        index = self.__dict__.get("_subscriber_index")
        if index is None or index[0] is not self.subscribers:
            by_email: dict[str, SubscriberConfig] = {}
            for sub in self.subscribers:
                by_email.setdefault(sub.email.lower(), sub)
            index = (self.subscribers, by_email)
            # a cache beside the fields (the list it was built from, address → subscriber):
            # rebuilt if ``subscribers`` is replaced; not a field, so not compared or copied
            object.__setattr__(self, "_subscriber_index", index)
        return index[1].get(email.lower())


#: Config keys that are not written in the file: set by :func:`load_config`.
_NOT_IN_FILE = ("path", "fingerprint")
_Section = TypeVar("_Section")


def validate(
    kind: type[_Section], data: Any, *, theme_ids: Iterable[str] | None = None
) -> _Section:
    """``data`` (the TOML tables, as dicts) checked and converted into ``kind`` — :class:`Config`
    or one of its sections. ``theme_ids`` are the themes a subscriber may follow (default: the
    packaged ones). Raises pydantic's ``ValidationError`` listing every problem (imported here:
    validation is the only step that needs pydantic)."""
    context = {"theme_ids": set(DEFAULT_THEME_IDS if theme_ids is None else theme_ids)}
    return typing.cast(_Section, _adapter(kind).validate_python(data, context=context))


_ADAPTERS: dict[type, Any] = {}


def _adapter(kind: type) -> Any:
    """pydantic's validator of ``kind`` (with its :data:`_TABLE_RULES`), built once per
    process on first use."""
    if kind not in _ADAPTERS:
        from pydantic import TypeAdapter

        rule = _TABLE_RULES.get(kind)
        target: Any = Annotated[kind, Before(rule)] if rule else kind
        _ADAPTERS[kind] = TypeAdapter(target)
    return _ADAPTERS[kind]


def _from_key(mail: Any) -> Any:
    """The file's ``from`` is the field ``from_`` (``from`` is a Python keyword)."""
    if not isinstance(mail, dict) or "from" not in mail:
        return mail
    renamed = {("from_" if k == "from" else k): v for k, v in mail.items() if k != "from_"}
    if "from_" in mail:
        renamed["from"] = mail["from_"]  # both spellings: reported as an unknown key
    return renamed


def _subscriber_zone_defaults_to_service(data: Any) -> Any:
    """A subscriber without ``timezone`` lives in ``[service] timezone`` (itself Asia/Seoul
    by default): its ``send_at`` and dates are read there. An invalid service zone is
    reported once, on the service, and leaves such subscribers on the default."""
    if not isinstance(data, dict):
        return data
    service = data.get("service")
    zone = service.get("timezone") if isinstance(service, dict) else None
    if isinstance(service, ServiceConfig):
        zone = service.timezone
    subscribers = data.get("subscribers")
    if not isinstance(zone, str) or not isinstance(subscribers, list):
        return data
    try:
        check_zone(zone)
    except ValueError:
        return data
    subscribers = [
        {**sub, "timezone": zone} if isinstance(sub, dict) and "timezone" not in sub else sub
        for sub in subscribers
    ]
    return {**data, "subscribers": subscribers}


#: What a class's tables go through before its own validation, wherever it is validated (the
#: ``mail`` table inside a whole config too: :attr:`Config.mail` names the same rule).
_TABLE_RULES: dict[type, Callable[[Any], Any]] = {
    Config: _subscriber_zone_defaults_to_service,
    MailConfig: _from_key,
}


def _cross_checks(raw: dict[str, Any]) -> list[str]:
    """Checks across list entries, run on the raw data so they report alongside field errors."""

    def keys(section: str, key: str) -> list[str | None]:
        entries = raw.get(section)
        if not isinstance(entries, list):
            return []
        values = [e.get(key) if isinstance(e, dict) else None for e in entries]
        return [v.strip().lower() if isinstance(v, str) else None for v in values]

    return (
        _duplicates("sources", keys("sources", "id"), "id")
        + _duplicates("subscribers", keys("subscribers", "email"), "email")
        + _theme_pattern_problems(raw)
        + _keyword_contradictions(raw)
    )


def _keyword_contradictions(raw: dict[str, Any]) -> list[str]:
    """An exclude term found in a keyword (whole words, normalised as matching does): every
    release the keyword asks for is dropped. Run on the raw data, so it is reported alongside
    the subscriber's other problems (:func:`monitor.render.digest.matches` is the rule)."""
    subscribers = raw.get("subscribers")
    problems = []
    for number, sub in enumerate(subscribers if isinstance(subscribers, list) else [], start=1):
        if not isinstance(sub, dict):
            continue
        keywords, exclude = sub.get("keywords", []), sub.get("exclude", [])
        if not isinstance(keywords, list) or not isinstance(exclude, list):
            continue  # the type error is reported by field validation
        if not keywords or not exclude:
            continue  # nothing to contradict: the classifier's text rules are not imported
        from monitor.classify.themes import contains_phrase, normalize_text

        same: list[str] = []
        inside: list[str] = []
        for term in (e for e in exclude if isinstance(e, str) and e.strip()):
            for keyword in (k for k in keywords if isinstance(k, str) and k.strip()):
                norm_term, norm_keyword = normalize_text(term), normalize_text(keyword)
                if norm_term == norm_keyword:
                    same.append(repr(norm_term))
                elif contains_phrase(norm_keyword, term):
                    inside.append(f"exclude {term!r} is found in keyword {keyword!r}")
        why = "a release containing it would be asked for and dropped at once; remove it from one of them"
        if same:
            joined = ", ".join(dict.fromkeys(same))
            problems.append(
                f"subscribers.{number}: {joined} is in both keywords and exclude: {why}"
            )
        if inside:
            problems.append(f"subscribers.{number}: {'; '.join(inside)}: {why}")
    return problems


def _theme_pattern_problems(raw: dict[str, Any]) -> list[str]:
    """Ask the classifier itself whether each theme's patterns compile and make sense."""
    themes = raw.get("themes")
    if not themes or not isinstance(themes, list):
        return []  # no classifier to import for a config that defines no theme
    from monitor.classify.themes import ThemeSpec, pattern_errors

    problems = []
    for number, theme in enumerate(themes if isinstance(themes, list) else [], start=1):
        patterns = theme.get("patterns", []) if isinstance(theme, dict) else []
        weights = theme.get("weights") if isinstance(theme, dict) else None
        if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns):
            continue  # the type error is reported by field validation
        if isinstance(weights, dict):  # weights as field validation reads them ("3" is 3.0)
            weights = {k: _as_weight(w) for k, w in weights.items()}
        spec = ThemeSpec(
            id="x", patterns=patterns, weights=weights if isinstance(weights, dict) else None
        )
        for suffix, message in pattern_errors(spec):
            field, _, index = suffix.partition(".")
            if field in ("patterns", "weights"):
                where = f"{field}.{int(index) + 1}" if index.isdigit() else suffix
                problems.append(f"themes.{number}.{where}: {message}")
    return problems


def _as_weight(value: Any) -> float:
    """A theme weight as validation reads it (a number, or a string of one); any other value,
    which field validation reports, as 1.0, so its key is still checked against the patterns."""
    if isinstance(value, int | float):
        return value
    try:
        return float(value) if isinstance(value, str) else 1.0
    except ValueError:
        return 1.0


def _duplicates(section: str, values: Iterable[str | None], key: str) -> list[str]:
    seen: dict[str, int] = {}
    errors = []
    for number, value in enumerate(values, start=1):
        if value is None:
            continue
        if value in seen:
            errors.append(
                f"{section}.{number}.{key}: duplicate of {section}.{seen[value]} ({value})"
            )
        seen.setdefault(value, number)
    return errors


def load_config(path: Path | str) -> Config:
    """Read, validate and resolve the config at ``path``; raise ConfigError listing every problem.

    (:func:`monitor.ops.configcache.load` gives the same result without validating a file
    already validated, unchanged, by the same code.)
    """
    path = Path(path)
    data, raw = read_toml(path)
    return resolve_paths(check(path, raw), path, hashlib.sha256(data).hexdigest())


def check(path: Path, raw: dict[str, Any]) -> Config:
    """The config in ``raw`` (the TOML tables of the file at ``path``, as :func:`read_toml`
    returns them) validated, its paths as written; ConfigError listing every problem as
    ``FILE: dotted.path: message``."""
    from pydantic import ValidationError

    problems = _cross_checks(raw)
    try:
        config = validate(Config, raw, theme_ids=_theme_ids(raw))
    except ValidationError as exc:
        problems = _describe(exc) + problems
    if problems:
        problems = [f"{path}: {problem}" for problem in problems]
        raise ConfigError(f"{path}: {len(problems)} problem(s) in the configuration", problems)
    return config


def _theme_ids(raw: dict[str, Any]) -> set[str]:
    """Built-in ids plus those the file defines, so subscribers may follow their own themes."""
    themes = raw.get("themes")
    extra = [t.get("id") for t in themes if isinstance(t, dict)] if isinstance(themes, list) else []
    return set(DEFAULT_THEME_IDS) | {i for i in extra if isinstance(i, str)}


def read_toml(path: Path) -> tuple[bytes, dict[str, Any]]:
    """The bytes of the config file at ``path`` and the TOML tables they hold (read once, so
    the fingerprint is of the text validated); ConfigError naming the file otherwise."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; start from the example: "
            "cp config.example.toml config.toml (or pass --config FILE)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file: {exc.strerror}") from None
    if not data.strip():
        raise ConfigError(
            f"{path}: the config file is empty; start from the example: cp config.example.toml {path.name}"
        )
    try:
        return data, tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: the config file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {_toml_position(str(exc))}") from None


def _toml_position(message: str) -> str:
    """Turn tomllib's "Invalid value (at line 2, column 5)" into "line 2, column 5: invalid value"."""
    match = re.search(r"^(.*) \(at line (\d+), column (\d+)\)$", message)
    if not match:
        return f"TOML syntax error: {message}"
    return f"line {match[2]}, column {match[3]}: TOML syntax error: {match[1][0].lower()}{match[1][1:]}"


def _describe(exc: ValidationError) -> list[str]:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(p + 1) if isinstance(p, int) else str(p) for p in error["loc"]]
        loc = ["from" if p == "from_" else p for p in loc]
        problems.append(f"{'.'.join(loc) or '(top level)'}: {_message(error)}")
    return problems


def _message(error: Any) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "literal_error":
        allowed = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return "must be one of " + ", ".join(allowed) + suggest(error.get("input"), allowed)
    if kind in ("extra_forbidden", "unexpected_keyword_argument"):
        return "unknown key" + _did_you_mean(error["loc"])
    if kind in ("missing", "missing_argument", "missing_keyword_only_argument"):
        return "required key is missing"
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", error["msg"]))
    simple = {
        "string_type": "must be a string",
        "int_type": "must be an integer",
        "int_parsing": "must be an integer",
        "bool_type": "must be true or false",
        "bool_parsing": "must be true or false",
        "list_type": "must be a list",
        "float_type": "must be a number",
        "float_parsing": "must be a number",
        "model_type": "must be a table",
        "dataclass_type": "must be a table",
        "dict_type": "must be a table",
    }
    if kind in simple:
        return simple[kind]
    return error["msg"][0].lower() + error["msg"][1:]


def suggest(value: object, choices: Iterable[str]) -> str:
    """``"; did you mean 'daily'?"`` for a near miss (``"dayly"``, ``"north korea"``), else ``""``.

    Case, spaces and underscores are forgiven first, since ids are lower-case and dashed. Then
    one dashed part of a choice (``"rss"`` → ``'mofa-rss'``) or its initials (``"nk"`` →
    ``'north-korea'``) when only one choice fits; then the closest spelling by
    :class:`difflib.SequenceMatcher` ratio (at least 0.6), ties going to the longest common
    prefix, as people mistype the middle of a word more than its start (``"munday"`` →
    ``'monday'``, not ``'sunday'``), then to the order of ``choices``.
    """
    best = _closest(value, list(choices))
    return f"; did you mean {best!r}?" if best else ""


def _hint_in_parentheses(value: str, choices: Iterable[str]) -> str:
    best = _closest(value, list(choices))
    return f" (did you mean {best!r}?)" if best else ""


def _closest(value: object, choices: list[str]) -> str | None:
    if not isinstance(value, str):
        return None
    normal = re.sub(r"[\s_]+", "-", value.strip().lower())
    if not normal:
        return None
    if normal in choices:
        return normal
    parts = [
        c
        for c in choices
        if (len(normal) >= 3 and c.startswith(normal))
        or normal in c.split("-")
        or normal == "".join(p[0] for p in c.split("-") if p)
    ]
    if len(parts) == 1:
        return parts[0]

    def score(choice: str) -> tuple[float, int]:
        ratio = difflib.SequenceMatcher(None, normal, choice).ratio()
        prefix = 0
        while prefix < min(len(normal), len(choice)) and normal[prefix] == choice[prefix]:
            prefix += 1
        return ratio, prefix

    ranked = sorted(choices, key=score, reverse=True)  # stable: ties keep the choices' order
    return ranked[0] if ranked and score(ranked[0])[0] >= 0.6 else None


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    """Suggest the nearest known key, because most unknown keys are typos."""
    model: Any = Config
    for part in loc[:-1]:
        if isinstance(part, int) or model is None:
            continue
        hints = typing.get_type_hints(model)
        annotation = hints.get("from_" if part == "from" else part)
        args = typing.get_args(annotation) or (annotation,)
        args = tuple(typing.get_args(a)[0] if typing.get_args(a) else a for a in args)
        model = next((a for a in args if dataclasses.is_dataclass(a)), None)
    if model is None:
        return ""
    names = [
        "from" if f.name == "from_" else f.name
        for f in dataclasses.fields(model)
        if f.name not in _NOT_IN_FILE
    ]
    close = difflib.get_close_matches(str(loc[-1]), names, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def path_in_file(written: Path, config_file: Path) -> Path:
    """A path as the config file ``config_file`` names it: relative ones from the file's
    folder, so a service and a shell agree; symbolic links resolved."""
    return (written if written.is_absolute() else config_file.resolve().parent / written).resolve()


def resolve_paths(config: Config, path: Path, fingerprint: str) -> Config:
    """``config`` as read from ``path`` (whose bytes have SHA-256 ``fingerprint``), its paths
    made absolute (:func:`path_in_file`)."""

    def absolute(p: Path | None) -> Path | None:
        return None if p is None else path_in_file(p, path)

    replace = dataclasses.replace
    service = replace(config.service, state_dir=absolute(config.service.state_dir))
    smtp = replace(config.mail.smtp, ca_file=absolute(config.mail.smtp.ca_file))
    mail = replace(config.mail, maildir=absolute(config.mail.maildir), smtp=smtp)
    return replace(config, service=service, mail=mail, path=path, fingerprint=fingerprint)
