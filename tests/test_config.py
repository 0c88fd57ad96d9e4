"""The configuration is validated whole at load, and every mistake is named precisely."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from monitor.config import Config, load_config, parse_duration, validate
from monitor.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent

DESIGN_EXAMPLE = """\
[service]
state_dir = "state"            # SQLite database and default outbox live here
request_delay = "1s"           # pause between two requests to the same host ("0s" in tests)

[[sources]]
id = "mofa-en"
kind = "mofa-board"            # listing + article pages; "mofa-rss" reads the board's feed
url = "https://www.mofa.go.kr/eng/brd/m_5676/list.do"
every = "15m"                  # poll interval ("2s" in tests); jitter is added

[mail]
from = "MOFA Monitor <monitor@example.org>"
transport = "maildir"          # or "smtp"
maildir = "state/outbox"

[mail.smtp]                    # used when transport = "smtp"
host = "localhost"
port = 25
security = "none"              # "starttls" | "ssl" | "none"
# username = "..."; password_env = "MOFA_MONITOR_SMTP_PASSWORD"

[[subscribers]]
email = "desk@example.org"
frequency = "immediate"        # "immediate" | "daily" | "weekly"

[[subscribers]]
email = "nk-watch@example.org"
themes = ["north-korea", "sanctions"]   # none listed = every theme
frequency = "immediate"
"""

MINIMAL = """\
[[subscribers]]
email = "a@example.org"
"""


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


class TestValidConfigs:
    def test_example_file_loads(self) -> None:
        """config.example.toml in the repository is valid, so it cannot rot."""
        config = load_config(REPO / "config.example.toml")
        assert [s.frequency for s in config.subscribers] == ["immediate", "daily", "weekly"]
        assert config.sources[0].url == "https://www.mofa.go.kr/eng/brd/m_5676/list.do"

    def test_design_example_loads_as_written(self, tmp_path: Path) -> None:
        """The DESIGN §3 example is accepted and its values read back."""
        config = load_config(write(tmp_path, DESIGN_EXAMPLE))
        assert config.sources[0].every == dt.timedelta(minutes=15)
        assert config.service.request_delay == dt.timedelta(seconds=1)
        assert config.subscribers[1].themes == ["north-korea", "sanctions"]
        assert config.mail.smtp.security == "none"

    def test_paths_are_relative_to_the_config_file(self, tmp_path: Path) -> None:
        """state_dir and maildir resolve against the file's folder, not the working directory."""
        config = load_config(write(tmp_path, DESIGN_EXAMPLE))
        assert config.state_dir == tmp_path / "state"
        assert config.maildir == tmp_path / "state" / "outbox"

    def test_defaults_give_a_working_service(self, tmp_path: Path) -> None:
        """An almost empty file gets the real ministry board and a Maildir outbox."""
        config = load_config(write(tmp_path, MINIMAL))
        assert config.sources[0].id == "mofa-en"
        assert config.mail.transport == "maildir"
        assert config.maildir == tmp_path / "state" / "outbox"
        assert config.subscribers[0].send_at == dt.time(8, 0)

    def test_user_theme_can_be_followed(self, tmp_path: Path) -> None:
        """A theme defined in [[themes]] is a valid subscription."""
        config = load_config(
            write(
                tmp_path,
                """\
                [[themes]]
                id = "arctic"
                patterns = ["arctic", "북극"]
                [[subscribers]]
                email = "a@example.org"
                themes = ["arctic"]
                """,
            )
        )
        assert config.subscribers[0].themes == ["arctic"]

    @pytest.mark.parametrize(
        ("text", "seconds"),
        [("0s", 0), ("2s", 2), ("15m", 900), ("1h", 3600), ("1h30m", 5400), ("500ms", 0.5)],
    )
    def test_durations(self, text: str, seconds: float) -> None:
        """Durations read as people write them."""
        assert parse_duration(text).total_seconds() == seconds


MISTAKES = [
    pytest.param(
        '[service]\nstate_dri = "x"\n',
        "config.toml: service.state_dri: unknown key; did you mean 'state_dir'?",
        id="unknown-key",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\n[[subscribers]]\nemail = "b@example.org"\nfrequency = "hourly"\n',
        "config.toml: subscribers.2.frequency: must be one of immediate, daily, weekly",
        id="bad-frequency",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nthemes = ["north-korea", "piracy"]\n',
        "config.toml: subscribers.1.themes: unknown theme 'piracy'; known: climate-environment, "
        "conflict-crisis, consular-safety, cyber, economy-trade, human-rights, humanitarian-aid, "
        "multilateral, north-korea, sanctions, security-defense, technology",
        id="unknown-theme",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\ntimezone = "Asia/Pyongyang2"\n',
        "config.toml: subscribers.1.timezone: unknown time zone 'Asia/Pyongyang2' (use an IANA name like Asia/Seoul)",
        id="bad-zone",
    ),
    pytest.param(
        '[[sources]]\nid = "x"\nurl = "https://example.org/eng/brd/m_5676/list.do"\nevery = "15 minutes"\n',
        'config.toml: sources.1.every: \'15 minutes\' is not a duration; use e.g. "30s", "15m", "1h"',
        id="bad-duration",
    ),
    pytest.param(
        '[[sources]]\nurl = "https://example.org/eng/brd/m_5676/list.do"\n',
        "config.toml: sources.1.id: required key is missing",
        id="missing-key",
    ),
    pytest.param(
        '[service]\nstate_dir = "state"\nrequest_delay = \n',
        "config.toml: line 3, column 17: TOML syntax error: invalid value",
        id="toml-syntax",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "not-an-address"\n',
        "config.toml: subscribers.1.email: 'not-an-address' is not an e-mail address",
        id="bad-email",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a..b@example.org"\n',
        "config.toml: subscribers.1.email: 'a..b@example.org' is not an e-mail address",
        id="email-a-header-cannot-hold",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\n[[subscribers]]\nemail = "A@example.org"\n',
        "config.toml: subscribers.2.email: duplicate of subscribers.1 (a@example.org)",
        id="duplicate-subscriber",
    ),
    pytest.param(
        '[[themes]]\nid = "x"\npatterns = ["(unclosed"]\n',
        "config.toml: themes.1.patterns.1: invalid pattern '(unclosed': "
        "missing ), unterminated subpattern at position 0",
        id="bad-regex",
    ),
    pytest.param(
        '[mail]\ntransport = "smpt"\n',
        "config.toml: mail.transport: must be one of maildir, smtp; did you mean 'smtp'?",
        id="enum-did-you-mean",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nfrequency = "dayly"\n',
        "config.toml: subscribers.1.frequency: must be one of immediate, daily, weekly; "
        "did you mean 'daily'?",
        id="frequency-did-you-mean",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nthemes = ["north korea"]\n',
        "config.toml: subscribers.1.themes: unknown theme 'north korea'; did you mean 'north-korea'?",
        id="theme-did-you-mean",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nthemes = ["sanctons"]\n',
        "config.toml: subscribers.1.themes: unknown theme 'sanctons'; did you mean 'sanctions'?",
        id="theme-typo-did-you-mean",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nweekday = "thrusday"\n',
        "config.toml: subscribers.1.weekday: must be one of monday, tuesday, wednesday, thursday, "
        "friday, saturday, sunday; did you mean 'thursday'?",
        id="weekday-did-you-mean",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["Yongbyon", "Gaza"]\n'
        'exclude = ["gaza "]\n',
        "config.toml: subscribers.1: 'gaza' is in both keywords and exclude: a release containing "
        "it would be asked for and dropped at once; remove it from one of them",
        id="keyword-also-excluded",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["Gaza Strip"]\nexclude = ["GAZA"]\n',
        "config.toml: subscribers.1: exclude 'GAZA' is found in keyword 'Gaza Strip': a release "
        "containing it would be asked for and dropped at once; remove it from one of them",
        id="exclude-inside-keyword",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["Gaza Strip"]\n'
        'exclude = ["gaza  strip"]\n',
        "config.toml: subscribers.1: 'gaza strip' is in both keywords and exclude: a release "
        "containing it would be asked for and dropped at once; remove it from one of them",
        id="keyword-excluded-other-spacing",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nfrequency = "weekly"\nweekday = "munday"\n',
        "config.toml: subscribers.1.weekday: must be one of monday, tuesday, wednesday, thursday, "
        "friday, saturday, sunday; did you mean 'monday'?",
        id="weekday-first-letter-wins-tie",
    ),
    pytest.param(
        '[[sources]]\nid = "s"\nkind = "rss"\nurl = "https://example.org/"\n',
        "config.toml: sources.1.kind: must be one of mofa-board, mofa-rss; did you mean 'mofa-rss'?",
        id="kind-part-did-you-mean",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\n'
        'themes = ["North-Korea", "nk", "sanction", "zzz"]\n',
        "config.toml: subscribers.1.themes: unknown themes 'North-Korea' (did you mean "
        "'north-korea'?), 'nk' (did you mean 'north-korea'?), 'sanction' (did you mean "
        "'sanctions'?), 'zzz'; known: climate-environment, conflict-crisis, consular-safety, "
        "cyber, economy-trade, human-rights, humanitarian-aid, multilateral, north-korea, "
        "sanctions, security-defense, technology",
        id="several-unknown-themes-each-suggested",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\ncountries = ["XX", "Germany", "kp"]\n',
        "config.toml: subscribers.1.countries: 'XX' is not an ISO 3166-1 alpha-2 code like 'KP'; "
        "'Germany' is not an ISO 3166-1 alpha-2 code like 'KP'; did you mean 'DE' (Germany)?",
        id="unknown-country-codes",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\ncountries = ["KR"]\n',
        "config.toml: subscribers.1.countries: 'KR': releases are by and about Korea, so none is "
        "tagged with it; list the other countries you follow",
        id="korea-itself",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nname = "Evil \\u001b]0;pwn\\u0007 \\u202eName"\n',
        "config.toml: subscribers.1.name: 'Evil \\x1b]0;pwn\\x07 \\u202eName' contains control "
        "or bidi characters (\\x1b, \\x07, \\u202e); write plain text",
        id="control-characters-in-name",
    ),
    pytest.param(
        '[[subscribers]]\nemail = "a@example.org"\nkeywords = ["ok", "two\\nlines"]\n',
        "config.toml: subscribers.1.keywords.2: 'two\\nlines' contains control or bidi "
        "characters (\\x0a); write plain text",
        id="control-characters-in-keyword",
    ),
    pytest.param(
        '[mail]\nsubject_prefix = "News\\u2028"\n',
        "config.toml: mail.subject_prefix: 'News\\u2028' contains control or bidi characters "
        "(\\u2028); write plain text",
        id="separator-in-subject-prefix",
    ),
    pytest.param(
        '[[themes]]\nid = "arctic"\npatterns = ["arctic", "(a+)+b"]\n',
        "config.toml: themes.1.patterns.2: invalid pattern '(a+)+b': a repeated group contains "
        "another repetition (as in '(a+)+'): such a pattern can take exponential time on "
        "scraped text (catastrophic backtracking); repeat the group's content once, "
        "e.g. '(a+)+' → 'a+'",
        id="nested-quantifier",
    ),
    pytest.param(
        '[mail.smtp]\nusername = "u"\n',
        "config.toml: mail.smtp: username is set but password_env (the variable holding the password) is not",
        id="secret-only-from-env",
    ),
]


class TestMistakes:
    @pytest.mark.parametrize(("text", "expected"), MISTAKES)
    def test_each_mistake_gives_the_exact_message(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, expected: str
    ) -> None:
        """The message names the file, the dotted field path and what is wrong."""
        monkeypatch.chdir(tmp_path)
        path = Path("config.toml")
        path.write_text(text, encoding="utf-8")
        assert problems(path) == [expected]

    def test_several_mistakes_are_all_reported(self, tmp_path: Path) -> None:
        """One run shows every problem, so a user fixes them all at once."""
        path = write(
            tmp_path,
            """\
            [service]
            request_delay = "soon"
            [[subscribers]]
            email = "a@example.org"
            frequency = "hourly"
            themes = ["nope"]
            [[subscribers]]
            email = "a@example.org"
            send_at = "8am"
            """,
        )
        found = [p.split(": ", 2)[1] for p in problems(path)]
        assert found == [
            "service.request_delay",
            "subscribers.1.themes",
            "subscribers.1.frequency",
            "subscribers.2.send_at",
            "subscribers.2.email",
        ]

    def test_contradiction_is_reported_with_the_other_problems(self, tmp_path: Path) -> None:
        """A bad theme in the same subscriber does not hide its keyword/exclude contradiction."""
        path = write(
            tmp_path,
            """\
            [[subscribers]]
            email = "a@example.org"
            themes = ["nope"]
            keywords = ["Gaza"]
            exclude = ["gaza"]
            """,
        )
        found = [p.split(": ", 2)[1] for p in problems(path)]
        assert found == ["subscribers.1.themes", "subscribers.1"]

    def test_missing_file_says_how_to_start(self, tmp_path: Path) -> None:
        """A missing config names the path tried and the command to create one."""
        message = problems(tmp_path / "config.toml")[0]
        assert str(tmp_path / "config.toml") in message
        assert "cp config.example.toml config.toml" in message


class TestSubscriberZone:
    """A subscriber without ``timezone`` uses ``[service] timezone`` (F24)."""

    def test_service_zone_reaches_subscribers_without_their_own(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            """\
            [service]
            timezone = "Europe/Berlin"
            [[subscribers]]
            email = "a@example.org"
            [[subscribers]]
            email = "b@example.org"
            timezone = "America/Los_Angeles"
            """,
        )
        config = load_config(path)
        assert [s.timezone for s in config.subscribers] == ["Europe/Berlin", "America/Los_Angeles"]

    def test_default_is_seoul(self) -> None:
        config = validate(Config, {"subscribers": [{"email": "a@example.org"}]})
        assert config.subscribers[0].timezone == "Asia/Seoul"

    def test_bad_service_zone_is_reported_once(self, tmp_path: Path) -> None:
        path = write(
            tmp_path,
            '[service]\ntimezone = "Mars/Base"\n[[subscribers]]\nemail = "a@example.org"\n',
        )
        assert [p.split(": ", 2)[1] for p in problems(path)] == ["service.timezone"]
