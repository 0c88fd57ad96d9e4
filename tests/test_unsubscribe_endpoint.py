"""The unsubscribe endpoint's edges (F7, F8): only the button's form or an RFC 8058 one-click
body unsubscribes, and the recorded "how" is what happened; an over-long request line gets 414
and one log line; a client hanging up is one log line; HEAD answers like GET without a body."""

from __future__ import annotations

import http.client
import logging
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_health import Endpoint, write_config

from monitor.config import Config
from monitor.deliver.mailmessage import make_unsubscribe_token
from monitor.ops import health
from monitor.plan.outbox import unsubscribe_secret
from monitor.store.sqlite import Store

ADDRESS = "desk@example.org"
ONE_CLICK_MULTIPART = (
    b'--XyZ\r\nContent-Disposition: form-data; name="List-Unsubscribe"\r\n\r\n'
    b"One-Click\r\n--XyZ--\r\n"
)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return write_config(tmp_path)


@pytest.fixture
def store(config: Config) -> Iterator[Store]:
    with Store.in_dir(config.state_dir) as store:
        yield store


@pytest.fixture
def endpoint(config: Config, store: Store) -> Iterator[Endpoint]:
    ep = Endpoint(config)
    yield ep
    ep.server.stop()


def post(endpoint: Endpoint, path: str, body: bytes, ctype: str | None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.server.port, timeout=5)
    headers = {"Content-Type": ctype} if ctype else {}
    conn.request("POST", path, body=body, headers=headers)
    response = conn.getresponse()
    try:
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("body", "ctype"),
    [
        (b"", None),
        (b"", "application/x-www-form-urlencoded"),
        (b'{"List-Unsubscribe": "One-Click"}', "application/json"),
        (b"List-Unsubscribe=One-Click", "text/plain"),
        (
            b'--XyZ\r\nContent-Disposition: form-data; name="x"\r\n\r\ny\r\n--XyZ--\r\n',
            "multipart/form-data; boundary=XyZ",
        ),
        (b"List-Unsubscribe=Yes", "application/x-www-form-urlencoded"),
    ],
    ids=["no-body", "empty-form", "json", "text", "multipart-other", "wrong-value"],
)
def test_a_post_that_is_neither_button_nor_one_click_changes_nothing(
    endpoint: Endpoint, config: Config, store: Store, body: bytes, ctype: str | None
) -> None:
    token = make_unsubscribe_token(unsubscribe_secret(config, store), ADDRESS)
    status, page = post(endpoint, f"/unsubscribe?token={token}", body, ctype)
    assert status == 400 and b"Nothing was changed" in page
    assert store.suppressed() == set()


def test_a_multipart_one_click_request_unsubscribes_as_one_click(
    endpoint: Endpoint, config: Config, store: Store
) -> None:
    """RFC 8058 §3.1 allows multipart/form-data for the one-click body."""
    token = make_unsubscribe_token(unsubscribe_secret(config, store), ADDRESS)
    status, _ = post(
        endpoint,
        f"/unsubscribe?token={token}",
        ONE_CLICK_MULTIPART,
        "multipart/form-data; boundary=XyZ",
    )
    assert status == 200
    assert store.suppressions()[ADDRESS].reason == "one-click"


def raw(endpoint: Endpoint, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", endpoint.server.port), timeout=5) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_an_over_long_request_line_gets_414_and_one_log_line(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.INFO)
    answer = raw(endpoint, b"POST /unsubscribe?token=" + b"A" * 100_000 + b" HTTP/1.1\r\n\r\n")
    assert answer.split(b"\r\n", 1)[0].split(b" ")[1] == b"414"
    assert "Traceback" not in capfd.readouterr().err
    lines = [
        r for r in caplog.records if r.name == health.log.name and r.levelno >= logging.WARNING
    ]
    assert len(lines) == 1 and "AAAA" not in lines[0].getMessage()


def test_head_answers_like_get_without_a_body(
    endpoint: Endpoint, config: Config, store: Store
) -> None:
    token = make_unsubscribe_token(unsubscribe_secret(config, store), ADDRESS)
    conn = http.client.HTTPConnection("127.0.0.1", endpoint.server.port, timeout=5)
    conn.request("HEAD", f"/unsubscribe?token={token}")
    response = conn.getresponse()
    assert response.status == 200
    assert int(response.headers["Content-Length"]) > 0
    assert response.read() == b""
    conn.close()
    assert store.suppressed() == set()


def test_a_client_hanging_up_is_one_log_line_not_a_traceback(
    endpoint: Endpoint, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    """The server's error hook, as socketserver calls it when a write meets a closed peer."""
    caplog.set_level(logging.INFO)
    server = endpoint.server._httpd
    try:
        raise BrokenPipeError(32, "Broken pipe")
    except BrokenPipeError:
        server.handle_error(None, ("127.0.0.1", 1))
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        server.handle_error(None, ("127.0.0.1", 1))
    assert "Traceback" not in capfd.readouterr().err
    messages = [r.getMessage() for r in caplog.records if r.name == health.log.name]
    assert messages == [
        "endpoint: the client hung up (BrokenPipeError)",
        "endpoint: request failed: RuntimeError: boom",
    ]
    assert sys.exc_info() == (None, None, None)
