"""Paging always ends, and nothing is lost silently.

Index paging is not stateful (RFC 7644 §3.4.2.4: "clients MUST be prepared
to handle inconsistent results"): a directory edited mid-sync shifts its
pages. Services also get paging wrong: ``itemsPerPage`` of 0, a page
served twice, ``startIndex`` ignored, totals that do not match, cursors
that loop (RFC 9865). FakeScim reproduces each one; scim2-server does none
of them.
"""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from baton_scim.errors import ProtocolError
from baton_scim.http import ScimClient
from baton_scim.paging import Lister
from baton_scim.provider import Credentials
from baton_scim.runtime import prepare
from baton_scim.settings import Settings
from pydantic import SecretStr

from tests.support.fake_scim import (
    LIST_RESPONSE,
    FakeScim,
    Fault,
    RecordedRequest,
    Response,
    serve_page_twice,
)
from tests.support.hostile import (
    SCIM2_SERVER,
    description,
    make_users,
    one_error_line,
    sync,
    warnings_of,
)
from tests.support.scim_server import ScimServer, seed_directory
from tests.support.snapshot import snapshot

TOKEN = "paging-token-1"
PAGE = "10"

Edit = Callable[[dict[str, Any], dict[str, str]], None]


def unchanged(payload: dict[str, Any], query: dict[str, str]) -> None:
    """Leave a list answer as the server made it."""


class QuirkyScim(FakeScim):
    """FakeScim whose user pages pass through ``edit`` before they leave."""

    def __init__(self, users: list[dict[str, Any]], edit: Edit) -> None:
        super().__init__(users, [], token=TOKEN)
        self.edit = edit

    def _list(self, resources, query) -> Response:
        response = super()._list(resources, query)
        if resources is not self.users:
            return response
        payload = response.json
        self.edit(payload, dict(query))
        return self._json(200, payload)


class EditAfterFirstPage(Fault):
    """An administrator editing the directory right after page one is served.

    ``change`` gets the served user list; ``times`` bounds how many first
    pages (one per listing pass) trigger it.
    """

    def __init__(self, server: FakeScim, change, times: int = 1) -> None:
        self.server = server
        self.change = change
        self.times = times

    def after(self, request: RecordedRequest, response: Response) -> None:
        first_page = request.query.get("startIndex") == "1"
        if request.path.endswith("/Users") and first_page and self.times > 0:
            self.times -= 1
            self.change(self.server.users)


def _run(server: FakeScim, folder: Path, *flags: str, **pagination: Any):
    config = description(folder, server.url, pagination=pagination)
    out = folder / "sync.c1z"
    result = sync(config, out, "--api-key", TOKEN, "--page-size", PAGE, *flags)
    return result, out


def _user_ids(out: Path) -> set[str]:
    return {r[1] for r in snapshot(out)["resources"] if r[0] == "user"}


def _user_lists(server: FakeScim) -> list[RecordedRequest]:
    return [r for r in server.requests if r.path.endswith("/Users")]


def test_users_added_mid_listing_all_arrive(tmp_path):
    def add_seven(users: list[dict[str, Any]]) -> None:
        users[0:0] = make_users(7, prefix="new")  # later pages shift right

    with FakeScim(make_users(50), [], token=TOKEN) as server:
        server.faults = [EditAfterFirstPage(server, add_seven)]
        result, out = _run(server, tmp_path, "--log-format", "console")

    assert result.exit_code == 0, result.output
    assert _user_ids(out) == {u["id"] for u in server.users}
    assert len(_user_ids(out)) == 57
    assert warnings_of(result) == []


def test_users_removed_mid_listing_hide_no_one_else(tmp_path):
    def remove_three(users: list[dict[str, Any]]) -> None:
        del users[2:5]  # already received on page one: later pages shift left

    with FakeScim(make_users(50), [], token=TOKEN) as server:
        server.faults = [EditAfterFirstPage(server, remove_three)]
        result, out = _run(server, tmp_path, "--log-format", "console")

    assert result.exit_code == 0, result.output
    remaining = {u["id"] for u in server.users}
    assert len(remaining) == 47 and remaining <= _user_ids(out)
    assert warnings_of(result) == []


def test_a_directory_that_keeps_changing_is_synced_with_a_warning(tmp_path):
    def add_one(users: list[dict[str, Any]]) -> None:
        users.insert(0, make_users(1, prefix=f"late{len(users)}")[0])

    with FakeScim(make_users(30), [], token=TOKEN) as server:
        server.faults = [EditAfterFirstPage(server, add_one, times=2)]
        result, out = _run(server, tmp_path, "--log-format", "console")

    assert result.exit_code == 0, result.output
    # The user added during the second pass may be missed: the warning says so.
    before_last_change = {u["id"] for u in server.users[1:]}
    assert before_last_change <= _user_ids(out)
    (warning,) = warnings_of(result)
    assert warning.startswith("warning: Users: ")
    assert "the directory changed while it was listed twice" in warning


def test_a_page_served_twice_is_dropped_and_the_page_it_hid_fetched(tmp_path):
    with FakeScim(make_users(50), [], token=TOKEN) as server:
        server.faults = [serve_page_twice("/Users")]
        result, out = _run(server, tmp_path, "--log-format", "console")

    assert result.exit_code == 0, result.output
    assert _user_ids(out) == {u["id"] for u in server.users}
    assert warnings_of(result) == []
    assert len(_user_lists(server)) <= 2 * 5 + 1


def test_items_per_page_of_zero_is_ignored(tmp_path):
    def zero(payload: dict[str, Any], query: dict[str, str]) -> None:
        payload["itemsPerPage"] = 0

    with QuirkyScim(make_users(25), zero) as server:
        result, out = _run(server, tmp_path)

    assert result.exit_code == 0, result.output
    assert len(_user_ids(out)) == 25
    assert len(_user_lists(server)) == 3


def test_empty_pages_under_an_announced_total_stop_with_an_error(tmp_path):
    def empty(payload: dict[str, Any], query: dict[str, str]) -> None:
        payload.update(itemsPerPage=0, Resources=[])

    with QuirkyScim(make_users(25), empty) as server:
        result, _ = _run(server, tmp_path)

    line = one_error_line(result)
    assert (
        "GET /scim/v2/Users?startIndex=1&count=10: the service announced 25 "
        "resources (totalResults) but listed none"
    ) in line


class IgnoresStartIndex(QuirkyScim):
    """Always the first page, whatever startIndex asks for."""

    def _list(self, resources, query) -> Response:
        return super()._list(resources, {**query, "startIndex": "1"})


def test_a_service_ignoring_start_index_stops_with_a_clear_error(tmp_path):
    with IgnoresStartIndex(make_users(45), unchanged) as server:
        result, _ = _run(server, tmp_path)

    line = one_error_line(result)
    assert "the service seems to ignore startIndex" in line
    assert len(_user_lists(server)) <= 5 + 3  # the first pass, then two repeats


def test_ignoring_start_index_without_totals_stops_with_a_clear_error(tmp_path):
    def no_total(payload: dict[str, Any], query: dict[str, str]) -> None:
        del payload["totalResults"]

    with IgnoresStartIndex(make_users(45), no_total) as server:
        result, _ = _run(server, tmp_path)

    assert "the service seems to ignore startIndex" in one_error_line(result)
    assert len(_user_lists(server)) == 3


def test_more_announced_than_listed_ends_with_a_warning(tmp_path):
    def overcount(payload: dict[str, Any], query: dict[str, str]) -> None:
        payload["totalResults"] = 55

    with QuirkyScim(make_users(50), overcount) as server:
        result, out = _run(server, tmp_path, "--log-format", "console")

    assert result.exit_code == 0, result.output
    assert len(_user_ids(out)) == 50
    (warning,) = warnings_of(result)
    assert "Users: the service announced 55 but listed 50 distinct resources" in warning


def test_a_total_given_as_text_is_read_as_a_number(tmp_path):
    def as_text(payload: dict[str, Any], query: dict[str, str]) -> None:
        payload["totalResults"] = str(payload["totalResults"])

    with QuirkyScim(make_users(25), as_text) as server:
        result, out = _run(server, tmp_path, "--log-level", "debug")

    assert result.exit_code == 0, result.output
    assert len(_user_ids(out)) == 25
    assert "totalResults '25' read as 25" in result.stderr


def _cursor_pages(next_cursor: Callable[[str], str | None]) -> Edit:
    """Serve RFC 9865 cursors: page N is asked for with cursor "cN"."""

    def edit(payload: dict[str, Any], query: dict[str, str]) -> None:
        cursor = next_cursor(query.get("cursor", ""))
        if cursor:
            payload["nextCursor"] = cursor

    return edit


class CursorScim(QuirkyScim):
    """Cursor paging over FakeScim: cursor "cN" starts at resource N."""

    def _list(self, resources, query) -> Response:
        cursor = query.get("cursor") or "c1"
        start = cursor[1:] if cursor[1:].isdigit() else "1"
        return super()._list(resources, {**query, "startIndex": start})


def test_cursor_paging_follows_next_cursor_to_the_end(tmp_path):
    def following(cursor: str) -> str | None:
        start = int(cursor[1:] or 1) if cursor else 1
        return f"c{start + 10}" if start + 10 <= 25 else None

    with CursorScim(make_users(25), _cursor_pages(following)) as server:
        result, out = _run(server, tmp_path, method="cursor")

    assert result.exit_code == 0, result.output
    assert len(_user_ids(out)) == 25
    assert [r.query["cursor"] for r in _user_lists(server)] == ["", "c11", "c21"]


def test_a_cursor_handed_out_twice_stops_with_an_error(tmp_path):
    with CursorScim(make_users(25), _cursor_pages(lambda _: "c11")) as server:
        result, _ = _run(server, tmp_path, method="cursor")

    assert "the service gave the same cursor twice" in one_error_line(result)


def test_cursors_that_serve_the_same_page_stop_with_an_error(tmp_path):
    counter = iter(range(2, 1000))

    def always_new(cursor: str) -> str:
        return f"loop-{next(counter)}"  # new cursors, yet always page one

    with CursorScim(make_users(25), _cursor_pages(always_new)) as server:
        result, _ = _run(server, tmp_path, method="cursor")

    assert "cursor pages repeat the same resources" in one_error_line(result)
    assert len(_user_lists(server)) == 3


class Inventing(FakeScim):
    """A hostile service that invents new users for every page it is asked."""

    def _list(self, resources, query) -> Response:
        start = int(query.get("startIndex", "1"))
        users = make_users(start + 9)[start - 1 :]
        payload = {
            "schemas": [LIST_RESPONSE],
            "totalResults": start + 100,
            "Resources": users,
        }
        return self._json(200, payload)


async def test_a_listing_that_never_ends_stops_at_the_page_budget(tmp_path):
    with Inventing([], [], token=TOKEN) as server:
        config = description(tmp_path, server.url)
        credentials = Credentials(api_key=SecretStr(TOKEN))
        context = prepare(Settings(scim_config=config, credentials=credentials))
        async with ScimClient(context, context.options["auth"]) as client:
            lister = Lister(client, context, "Users", max_pages=30)
            with pytest.raises(ProtocolError) as caught:
                async for _ in lister.pages():
                    pass

    assert "GET /scim/v2/Users: still paging after 30 pages" in str(caught.value)
    assert len(server.requests) == 30


class HoldSecondPage:
    """WSGI middleware: GET /Users?startIndex=11 waits for the last page.

    It stands for a service whose answers take uneven times (one slow
    shard, one page with heavy members). The second page is held until the
    last one has been asked for, or ``seconds`` pass.
    """

    def __init__(self, last_start: str, seconds: float) -> None:
        self.app: Any = None
        self.last_start = last_start
        self.seconds = seconds
        self.last_asked = threading.Event()
        self.held_second = threading.Event()
        self.last_asked_while_held = False

    def wrap(self, app: Any) -> HoldSecondPage:
        self.app = app
        return self

    def __call__(self, environ: Any, start_response: Any) -> Any:
        query = dict(parse_qsl(environ.get("QUERY_STRING", "")))
        if environ.get("PATH_INFO", "").endswith("/Users"):
            start = query.get("startIndex")
            if start == self.last_start:
                self.last_asked.set()
            elif start == "11":
                self.held_second.set()
                self.last_asked_while_held = self.last_asked.wait(self.seconds)
        return self.app(environ, start_response)


async def test_one_slow_page_does_not_hold_back_the_pages_after_it(tmp_path):
    # 120 users at 10 a page, 2 requests at a time: the last page (start
    # 111) is asked for while the second (start 11) is still unanswered.
    # Batches of pages, each awaited whole, would wait out the hold.
    hold = HoldSecondPage(last_start="111", seconds=10)
    with ScimServer(TOKEN, app_wrapper=hold.wrap) as server:
        seed_directory(server, users=120, groups=1)
        config = description(
            tmp_path,
            server.url,
            base=SCIM2_SERVER,
            pagination={"pageSize": 10, "concurrency": 2},
        )
        credentials = Credentials(api_key=SecretStr(TOKEN))
        context = prepare(Settings(scim_config=config, credentials=credentials))
        async with ScimClient(context, context.options["auth"]) as client:
            lister = Lister(client, context, "Users")
            ids = [user["id"] async for page in lister.pages() for user in page]

    assert hold.held_second.is_set()
    assert hold.last_asked_while_held
    assert len(set(ids)) == len(ids) == 120
    assert lister.state.pages == 12 and lister.state.passes == 1


async def test_pages_failing_together_leave_no_unread_task_error(tmp_path):
    # Several pages fail in the same moment (a service falling over): the
    # listing raises the first failure, and asyncio must have nothing left
    # to report about the others ("Task exception was never retrieved"
    # prints a traceback on stderr after the one error line).
    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _, context: reported.append(context))

    async def failing_span(self, start, end):
        await asyncio.sleep(0)  # every span fails in the same loop turn
        raise ProtocolError(f"page at {start} failed")

    with FakeScim(make_users(100), [], token=TOKEN) as server:
        pagination = {"pageSize": 10, "concurrency": 4}
        config = description(tmp_path, server.url, pagination=pagination)
        credentials = Credentials(api_key=SecretStr(TOKEN))
        context = prepare(Settings(scim_config=config, credentials=credentials))
        async with ScimClient(context, context.options["auth"]) as client:
            lister = Lister(client, context, "Users")
            lister._span = failing_span.__get__(lister)
            with pytest.raises(ProtocolError, match="failed"):
                async for _ in lister.pages():
                    pass
    gc.collect()
    await asyncio.sleep(0)

    assert reported == []
