"""A sync rides through rate limits, gateway errors and dropped connections.

The faults stand in front of the real scim2-server (``FaultMiddleware``),
each named after the provider behaviour it reproduces (docs providers.md):

- Slack's organisation-wide 429 with ``Retry-After`` in seconds (Slack
  SCIM rate-limits page: "parse the Retry-After header and retry");
- Zoom's 429 whose ``Retry-After`` is an ISO 8601 timestamp (Zoom rate
  limits, daily caps), and the RFC 9110 HTTP-date form;
- a gateway in front of the service answering 502/503/504 in plain text;
  (these three: 30% and 10% of the requests, ``EveryTenRequests``)
- a connection closed without an answer (a load balancer recycling it);
- a page served twice, as index paging shows when records shift
  between two requests (RFC 7644 §3.4.2.4).
"""

from __future__ import annotations

import email.utils
import itertools
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.support.fake_scim import (
    FakeScim,
    Fault,
    RecordedRequest,
    Reply,
    Response,
    drop_connection_once,
    rate_limit,
    serve_page_twice,
    status_phrase,
)
from tests.support.hostile import (
    SCIM2_SERVER,
    description,
    make_users,
    one_error_line,
    sync,
)
from tests.support.scim_server import FaultMiddleware, ScimServer, seed_directory
from tests.support.snapshot import snapshot

USERS = 300
PAGE_SIZE = 10


class EveryTenRequests(Fault):
    """Of every ten requests that reach it: three 429s and one gateway error.

    The 429s carry Slack's delta-seconds ("0", so the test stays fast),
    Zoom's ISO 8601 timestamp and an RFC 9110 HTTP date, the last two
    naming the present moment, which means "now". The gateway error is a
    plain-text 502, 503 or 504. A fixed pattern makes the shares exact.
    """

    LIMITED = {1: "seconds", 4: "iso", 7: "http-date"}
    FAILED = 9

    def __init__(self) -> None:
        self.seen = 0
        self.limited = 0
        self.failed = 0
        self._gateway = itertools.cycle([502, 503, 504])

    def before(self, request: RecordedRequest) -> Reply:
        slot = self.seen % 10
        self.seen += 1
        if slot in self.LIMITED:
            self.limited += 1
            return _rate_limited(self.LIMITED[slot])
        if slot == self.FAILED:
            self.failed += 1
            status = next(self._gateway)
            body = f"{status} {status_phrase(status)}\n".encode()
            return Response(status, {"Content-Type": "text/plain"}, body)
        return None


def _rate_limited(form: str) -> Response:
    value = "0"
    if form == "iso":
        value = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    elif form == "http-date":
        value = email.utils.formatdate(time.time(), usegmt=True)
    headers = {"Retry-After": value}
    return Response.error_reply(429, "Too many requests", headers)


@pytest.fixture(scope="module")
def faulty_server():
    """A seeded scim2-server behind a FaultMiddleware with no faults yet."""
    middleware: list[FaultMiddleware] = []

    def wrap(app):
        middleware.append(FaultMiddleware(app, []))
        return middleware[0]

    token = f"tok-{secrets.token_hex(8)}"
    with ScimServer(token, app_wrapper=wrap) as server:
        seed_directory(server, users=USERS, groups=20)
        yield server, middleware[0]


def _run(server: ScimServer, folder: Path, name: str, **http):
    config = description(
        folder, server.url, base=SCIM2_SERVER, http=http, name=f"{name}.yaml"
    )
    out = folder / f"{name}.c1z"
    result = sync(config, out, "--token", server.token, "--page-size", str(PAGE_SIZE))
    return result, out


def test_a_sync_through_429s_5xx_a_drop_and_a_repeated_page_equals_a_clean_one(
    faulty_server, tmp_path
):
    server, middleware = faulty_server
    middleware.faults = []
    clean, clean_file = _run(server, tmp_path, "clean")
    assert clean.exit_code == 0, clean.output

    dropped = drop_connection_once("/Users")
    repeated = serve_page_twice("/Users")
    pattern = EveryTenRequests()
    middleware.faults = [dropped, repeated, pattern]
    try:
        faulty, faulty_file = _run(server, tmp_path, "faulty", maxAttempts=20)
    finally:
        middleware.faults = []

    assert faulty.exit_code == 0, faulty.output
    assert snapshot(faulty_file) == snapshot(clean_file)
    assert dropped.fired == 1 and repeated.done
    assert pattern.seen >= 40
    assert pattern.limited / pattern.seen == pytest.approx(0.3, abs=0.05)
    assert pattern.failed / pattern.seen == pytest.approx(0.1, abs=0.03)
    assert "retrying GET" in faulty.stderr and "warning" not in faulty.stderr


def test_a_wait_longer_than_the_retry_budget_fails_naming_the_flag(tmp_path):
    # Zoom's daily caps answer 429 with a Retry-After hours away: waiting
    # that long inside a scheduled sync helps no one.
    token = "budget-token-1"
    daily_cap = rate_limit(1.0, retry_after="30", path_contains="/Users")
    with FakeScim(make_users(3), [], token=token, faults=[daily_cap]) as fake:
        config = description(tmp_path, fake.url)  # maxRetryWaitSeconds: 5
        flags = ("--api-key", token, "--max-retry-wait-seconds", "10")
        result = sync(config, tmp_path / "sync.c1z", *flags)

    line = one_error_line(result)
    assert "GET /scim/v2/Users?startIndex=1&count=100: the service answered 429" in line
    assert "asks to wait 30s (Retry-After), more than the 10s allowed" in line
    assert daily_cap.fired == 1
