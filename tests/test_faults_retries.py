"""What is retried, how long it waits, and how a request gives up.

An ``httpx.MockTransport`` plays the service here: the decisions pinned
below (a 429 or a refused connection is always safe to repeat, a PATCH
whose answer was lost is not) need answers and failures in an exact
order, which no real server gives on demand. The provider behaviours
behind each one are in docs providers.md: Slack's and Zoom's 429s with
Retry-After (seconds, or a timestamp for Zoom's daily limits) and gateway
errors in front of any service.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from baton_scim.errors import ServiceError, TransportError
from baton_scim.http import ScimClient, parse_retry_after
from baton_scim.provider import Credentials
from baton_scim.runtime import prepare
from baton_scim.settings import Settings
from pydantic import SecretStr

from tests.support.hostile import description

URL = "http://scim.test/scim/v2"


class Service:
    """Answers requests from a script; each entry an answer or an exception."""

    def __init__(self, *script: httpx.Response | Exception) -> None:
        self.script = list(script)
        self.calls: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        step = self.script[min(len(self.calls), len(self.script)) - 1]
        if isinstance(step, Exception):
            raise step
        return step


def answer(status: int, retry_after: str | None = None) -> httpx.Response:
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    body = {"Resources": [], "totalResults": 0} if status < 300 else {"detail": "busy"}
    return httpx.Response(status, headers=headers, json=body)


@pytest.fixture
def client_for(tmp_path: Path) -> Callable[..., ScimClient]:
    """Build a ScimClient on a scripted service, with description http keys."""

    def build(service: Service, **http: object) -> ScimClient:
        config = description(tmp_path, URL, http=http)
        credentials = Credentials(api_key=SecretStr("key-1234"))
        context = prepare(Settings(scim_config=config, credentials=credentials))
        transport = httpx.MockTransport(service)
        return ScimClient(context, context.options["auth"], transport=transport)

    return build


@pytest.fixture
def retry_delays(caplog, monkeypatch) -> Callable[[], list[float]]:
    """Read the delays of the ``retrying ...`` log lines, in order."""
    monkeypatch.setattr(logging.getLogger("baton_scim"), "propagate", True)
    caplog.set_level(logging.INFO, logger="baton_scim.http")

    def delays() -> list[float]:
        records = caplog.records
        return [r.args[1] for r in records if r.getMessage().startswith("retrying")]

    return delays


NOW = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),  # RFC 9110 HTTP-date
        ("2015-10-21T07:28:00Z", 30.0),  # Zoom's daily limits: ISO 8601
        ("2015-10-21T09:28:00+02:00", 30.0),
        ("2015-10-21T07:00:00Z", 0.0),  # a moment gone by means now
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_http_dates_and_iso_8601(value, seconds):
    assert parse_retry_after(value, now=NOW) == seconds


async def test_a_429_is_repeated_after_the_seconds_it_names(client_for):
    service = Service(answer(429, "0"), answer(200))
    client = client_for(service)

    body = await client.get_json("Users")

    assert body["totalResults"] == 0
    assert len(service.calls) == 2
    assert client.stats.retries == 1 and client.stats.throttled == 1


async def test_without_retry_after_the_wait_doubles_with_jitter(
    client_for, retry_delays
):
    service = Service(answer(503), answer(502), answer(504), answer(200))
    client = client_for(service, retryBaseDelaySeconds=0.01)

    await client.get_json("Users")

    assert len(service.calls) == 4
    first, second, third = retry_delays()
    assert 0.005 <= first <= 0.01
    assert 0.01 <= second <= 0.02
    assert 0.02 <= third <= 0.04


async def test_a_request_gives_up_after_max_attempts_naming_itself(client_for):
    service = Service(answer(503))
    client = client_for(service, maxAttempts=3)

    with pytest.raises(ServiceError) as caught:
        await client.get_json("Users", params={"startIndex": "26", "count": "25"})

    assert len(service.calls) == 3
    message = str(caught.value)
    assert "GET /scim/v2/Users?startIndex=26&count=25" in message
    assert "answered 503: busy (3 attempts)" in message


async def test_a_retry_after_beyond_the_wait_budget_fails_at_once(client_for):
    service = Service(answer(429, "3600"), answer(200))
    client = client_for(service, maxRetryWaitSeconds=60)

    with pytest.raises(ServiceError) as caught:
        await client.get_json("Users")

    assert len(service.calls) == 1
    assert "asks to wait 3600s (Retry-After), more than the 60s" in str(caught.value)
    assert "--max-retry-wait-seconds" in str(caught.value)


async def test_the_waiting_of_one_request_never_exceeds_its_budget(
    client_for, retry_delays
):
    service = Service(answer(503))
    client = client_for(
        service, maxAttempts=50, retryBaseDelaySeconds=0.02, maxRetryWaitSeconds=0.05
    )

    with pytest.raises(ServiceError):
        await client.get_json("Users")

    assert sum(retry_delays()) == pytest.approx(0.05)
    assert client.stats.waited_seconds <= 0.05 + 1e-9
    assert len(service.calls) < 50


async def test_a_patch_is_not_repeated_after_a_503(client_for):
    service = Service(answer(503), answer(200))
    client = client_for(service)

    with pytest.raises(ServiceError):
        await client.send("PATCH", "Groups/g1", json_body={"Operations": []})

    assert len(service.calls) == 1


async def test_a_patch_is_repeated_after_a_503_when_the_description_allows(
    client_for,
):
    service = Service(answer(503), answer(200))
    client = client_for(service, retryNonIdempotent=True)

    response, _ = await client.send("PATCH", "Groups/g1", json_body={})

    assert response.status_code == 200 and len(service.calls) == 2


async def test_a_patch_is_repeated_after_a_429(client_for):
    service = Service(answer(429, "0"), answer(200))
    client = client_for(service)

    response, _ = await client.send("PATCH", "Groups/g1", json_body={})

    assert response.status_code == 200 and len(service.calls) == 2


async def test_a_patch_is_repeated_when_the_connection_could_not_be_opened(
    client_for,
):
    service = Service(httpx.ConnectError("refused"), answer(200))
    client = client_for(service)

    response, _ = await client.send("PATCH", "Groups/g1", json_body={})

    assert response.status_code == 200 and len(service.calls) == 2


async def test_a_patch_is_not_repeated_when_its_answer_was_lost(client_for):
    service = Service(httpx.RemoteProtocolError("closed"), answer(200))
    client = client_for(service)

    with pytest.raises(TransportError) as caught:
        await client.send("PATCH", "Groups/g1", json_body={})

    assert len(service.calls) == 1
    assert "PATCH /scim/v2/Groups/g1: the connection was dropped" in str(caught.value)


async def test_a_get_is_repeated_when_its_answer_was_lost(client_for):
    service = Service(httpx.ReadError("reset"), answer(200))
    client = client_for(service)

    await client.get_json("Users")

    assert len(service.calls) == 2


async def test_a_refused_connection_is_tried_three_times(client_for):
    service = Service(httpx.ConnectError("refused"))
    client = client_for(service, maxAttempts=6)

    with pytest.raises(TransportError) as caught:
        await client.get_json("Users")

    assert len(service.calls) == 3
    assert "cannot connect (3 attempts)" in str(caught.value)
