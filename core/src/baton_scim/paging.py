"""Listing every resource of an endpoint, page by page, and always ending.

Index paging (RFC 7644 §3.4.2.4): the first page shows the total and how
many resources the service really returns per page; the pages up to that
total are then fetched concurrently (bounded), and sequential pages follow
while the total grows. The position always advances by the number of
resources received, never by ``itemsPerPage`` (absent on Miro, 0 or the
requested count on others). Cursor paging (RFC 9865) is followed whenever
the service hands out ``nextCursor``.

Index paging is not stateful, and the RFC tells clients to be prepared for
inconsistent results: a resource added or removed mid-listing shifts every
later page, so one page repeats a resource and another skips one.
Duplicates are dropped by ID; when fewer distinct resources arrived than
announced, or ``totalResults`` moved on the way, a second pass from the
start picks up what shifted past the first.

Termination: an empty page ends a listing, and so does a page past the
announced total that brings nothing new; the same page three times in a
row, or a cursor handed out twice, stops it with an error (the service
ignores ``startIndex`` or its cursors loop); no listing asks for more than
``max_pages`` pages.

Completeness: a service that announced more than it listed leaves a
warning in the summary, since a service may count resources it never
lists (deleted or hidden ones) and failing would make it unusable; one
that announced resources and listed none is an error, since an empty file
would read downstream as every access revoked.

Memory: the IDs already seen are kept as 64-bit hashes, about 75 bytes
per resource in CPython (7.5 MB for 100,000 users, against 13 MB for the
ID strings), the one per-resource state outside the c1z writer; the second
pass needs all of them to drop what it has seen.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from .errors import ProtocolError
from .http import ScimClient, error_detail
from .jsonpath import JsonPath, compile_path
from .mapping import as_id
from .provider import ListPage, ProviderContext

logger = logging.getLogger(__name__)

PageCallback = Callable[["ListingState"], None]
_SpanTask = asyncio.Task[list[tuple[list[dict[str, Any]], int]]]
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
#: 10 million resources at 100 a page: beyond any directory, short of forever.
MAX_PAGES = 100_000
#: Pages started per request the service may have in flight: the spare
#: ones are asked for while the sync maps a page that has arrived.
WINDOW_PER_REQUEST = 2
_CHANGED = (
    "the directory changed while it was listed twice; a resource moved "
    "between pages may be missing: run the sync again for a settled picture"
)
_IGNORED_START = (
    "pages up to startIndex={position} repeat the same resources; "
    "the service seems to ignore startIndex"
)


@dataclass
class ListingState:
    """Where one listing stands; shown as progress."""

    endpoint: str
    total: int | None = None
    received: int = 0
    unique: int = 0
    pages: int = 0
    duplicates: int = 0
    passes: int = 1
    warnings: list[str] = field(default_factory=list)


def read_list_response(provider: ProviderContext, endpoint: str, body: Any) -> ListPage:
    """Read a ListResponse through the description's pagination paths.

    A missing or ``null`` ``Resources`` is an empty page (RFC 7644 §3.4.2
    only requires it when there are results); a count given as a string is
    read as a number. Anything whose meaning is not certain is an error.
    """
    if not isinstance(body, dict):
        raise ProtocolError(
            f"GET {endpoint}: the answer is a JSON {_json_type(body)}, "
            "not a SCIM ListResponse",
            hint="check apiEndpoint: it must point at the SCIM base URL",
        )
    paths = _paging_paths(provider)
    total = _as_count(paths["total"].first(body), "totalResults", endpoint)
    resources = _resources(body, endpoint)
    if resources is None and total is None:
        raise _not_a_list_response(body, endpoint)

    cursor = body.get("nextCursor")
    return ListPage(
        resources=resources or [],
        total_results=total,
        start_index=_as_count(paths["start"].first(body), "startIndex", endpoint),
        items_per_page=_as_count(
            paths["per_page"].first(body), "itemsPerPage", endpoint
        ),
        next_cursor=cursor if isinstance(cursor, str) and cursor else None,
    )


def _resources(body: dict[str, Any], endpoint: str) -> list[dict[str, Any]] | None:
    """The resources of a page; None when the body has no Resources key."""
    key = "Resources" if "Resources" in body else "resources"
    if key not in body:
        return None
    raw = body[key]
    if raw is None:
        logger.debug("GET %s: 'Resources' is null; read as an empty page", endpoint)
        return []
    if not isinstance(raw, list):
        raise ProtocolError(
            f"GET {endpoint}: 'Resources' is a JSON {_json_type(raw)}, not a list",
            hint="the service does not speak SCIM 2.0 here; check apiEndpoint",
        )
    return [
        item for index, item in enumerate(raw) if _is_resource(item, index, endpoint)
    ]


def _is_resource(item: Any, index: int, endpoint: str) -> bool:
    if isinstance(item, dict):
        return True
    if item is None:
        logger.debug("GET %s: Resources[%d] is null; skipped", endpoint, index)
        return False
    raise ProtocolError(
        f"GET {endpoint}: Resources[{index}] is a JSON {_json_type(item)}, "
        "not a resource object",
        hint="the service does not speak SCIM 2.0 here; check apiEndpoint",
    )


def _not_a_list_response(body: dict[str, Any], endpoint: str) -> ProtocolError:
    """Explain a 200 answer that carries neither Resources nor totalResults."""
    schemas = body.get("schemas")
    if body.get("Errors") or (isinstance(schemas, list) and SCIM_ERROR in schemas):
        detail = error_detail(body) or "no detail"
        return ProtocolError(
            f"GET {endpoint}: the service answered 200 with an error: {detail}",
            hint="the service reports a failure with a success status; "
            "try again later or report it to the provider",
        )
    keys = ", ".join(sorted(body)[:6]) or "none"
    return ProtocolError(
        f"GET {endpoint}: the answer is not a SCIM ListResponse: it has neither "
        f"Resources nor totalResults (keys: {keys})",
        hint="check apiEndpoint, and pagination.totalResults in the description",
    )


def _paging_paths(provider: ProviderContext) -> dict[str, JsonPath]:
    cached: dict[str, JsonPath] | None = provider.options.get("_paging_paths")
    if cached is None:
        pagination = provider.config.pagination
        cached = {
            "total": compile_path(
                pagination.total_results, key="pagination.totalResults"
            ),
            "start": compile_path(pagination.start_index, key="pagination.startIndex"),
            "per_page": compile_path(
                pagination.items_per_page, key="pagination.itemsPerPage"
            ),
        }
        provider.options["_paging_paths"] = cached
    return cached


def _as_count(value: Any, name: str, endpoint: str) -> int | None:
    """A paging count; a numeric string is read as its number."""
    if value is None:
        return None
    count = _integer(value)
    if count is None or count < 0:
        logger.debug("GET %s: %s %r is not a count; ignored", endpoint, name, value)
        return None
    if not isinstance(value, int):
        logger.debug("GET %s: %s %r read as %d", endpoint, name, value, count)
    return count


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


def _json_type(value: Any) -> str:
    names = {dict: "object", list: "array", str: "string", bool: "boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "number")


class Lister:
    """Lists one endpoint (``Users`` or ``Groups``) to the end."""

    def __init__(
        self,
        client: ScimClient,
        provider: ProviderContext,
        endpoint: str,
        *,
        on_page: PageCallback | None = None,
        max_pages: int = MAX_PAGES,
    ) -> None:
        self.client = client
        self.provider = provider
        self.endpoint = endpoint
        self.state = ListingState(endpoint)
        self._on_page = on_page
        self._seen: set[int] = set()
        self._id_path = _id_path(provider, endpoint)
        self._last_page: frozenset[int] = frozenset()
        self._repeats = 0
        self._moved = False
        self._max_pages = max_pages
        # How messages name the listing, and the first request of it.
        self._where = client.label("GET", endpoint)
        self._first_request = self._where
        pagination = provider.config.pagination
        self.count = min(
            pagination.page_size, pagination.max_page_size or pagination.page_size
        )
        self.step = self.count
        self.concurrency = pagination.concurrency

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield the new (not yet seen) resources of each page."""
        method = self.provider.config.pagination.method
        first = await self._fetch(1, self.count, "" if method == "cursor" else None)
        yield self._accept(first)

        if first.next_cursor and method != "index":
            async for resources in self._follow_cursor(first.next_cursor):
                yield resources
        elif first.resources:
            # The service's real page size: it may cap count (Slack at 1000).
            self.step = len(first.resources)
            async for resources in self._index_pass(1 + self.step, first.total_results):
                yield resources
            if self._moved or not self._settled():
                async for resources in self._second_pass():
                    yield resources
        self._check_complete()

    async def _fetch(self, start: int, count: int, cursor: str | None) -> ListPage:
        self._guard_page_budget()
        hooks = self.provider.hook
        params = hooks.baton_scim_page_params(
            provider=self.provider,
            endpoint=self.endpoint,
            start_index=start,
            count=count,
            cursor=cursor,
        )
        if self.state.pages == 0:
            self._first_request = self.client.label("GET", self.endpoint, params)
        body = await self.client.get_json(self.endpoint, params=params)
        try:
            page: ListPage = hooks.baton_scim_read_page(
                provider=self.provider, endpoint=self.endpoint, body=body
            )
        except ProtocolError as error:
            raise self._named(error, params) from None
        self.state.pages += 1
        return page

    def _named(self, error: ProtocolError, params: dict[str, str]) -> ProtocolError:
        """The same error, naming the whole request (path and query)."""
        reason = error.message.removeprefix(f"GET {self.endpoint}: ")
        label = self.client.label("GET", self.endpoint, params)
        return ProtocolError(f"{label}: {reason}", hint=error.hint)

    def _guard_page_budget(self) -> None:
        if self.state.pages >= self._max_pages:
            raise ProtocolError(
                f"{self._where}: still paging after {self.state.pages} pages",
                hint="the service's paging does not end; report it to the provider",
            )

    def _accept(self, page: ListPage) -> list[dict[str, Any]]:
        """Keep the resources not seen before; track totals and repeats."""
        self._note_total(page.total_results)
        keys = [self._key(resource) for resource in page.resources]
        fresh = [
            resource
            for resource, key in zip(page.resources, keys, strict=True)
            if self._is_new(key)
        ]
        self.state.received += len(page.resources)
        self.state.unique += len(fresh)
        self._note_repeat(frozenset(key for key in keys if key is not None))
        if self._on_page:
            self._on_page(self.state)
        return fresh

    def _key(self, resource: dict[str, Any]) -> int | None:
        """A 64-bit hash of the resource's ID; None when it has no ID."""
        key = as_id(self._id_path.get(resource))
        return hash(key) if key else None

    def _is_new(self, key: int | None) -> bool:
        if key is None:
            return True  # no ID: the mapper skips it, nothing to compare
        if key in self._seen:
            self.state.duplicates += 1
            return False
        self._seen.add(key)
        return True

    def _note_total(self, total: int | None) -> None:
        if total is None:
            return
        previous = self.state.total
        if previous is not None and total != previous:
            logger.info(
                "GET %s: totalResults moved from %d to %d while listing",
                self.endpoint,
                previous,
                total,
            )
            self._moved = True
        self.state.total = total

    def _note_repeat(self, keys: frozenset[int]) -> None:
        """Count pages that hold exactly the resources of the page before."""
        if keys and keys == self._last_page:
            self._repeats += 1
            logger.debug("GET %s: a page repeated the one before", self.endpoint)
        else:
            self._repeats = 0
        self._last_page = keys

    def _settled(self) -> bool:
        """Everything announced has arrived, and the total stayed put."""
        total = self.state.total
        return total is not None and not self._moved and self.state.unique >= total

    async def _follow_cursor(self, cursor: str) -> AsyncIterator[list[dict[str, Any]]]:
        used = set()
        next_cursor: str | None = cursor
        while next_cursor:
            if next_cursor in used:
                raise ProtocolError(
                    f"{self._where}: the service gave the same cursor twice",
                    hint="its cursor paging loops; set pagination.method: index",
                )
            used.add(next_cursor)
            page = await self._fetch(0, self.count, next_cursor)
            yield self._accept(page)
            self._guard_repeats("cursor pages repeat the same resources")
            next_cursor = page.next_cursor if page.resources else None

    async def _index_pass(
        self, start: int, total: int | None, *, walk_all: bool = False
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages from ``start``: concurrently up to ``total``, then one by one.

        Without ``walk_all`` the pass ends as soon as everything announced
        has arrived (RFC 7644 §3.4.2.4); with it, the whole range is read.
        """
        position = start
        if total is not None and position <= total:
            spans = self._concurrent(position, total, stop_early=not walk_all)
            async for resources, end in spans:
                yield resources
                position = max(position, end)
                self._guard_repeats(_IGNORED_START.format(position=end))
        if not walk_all and self._settled():
            return
        async for resources in self._sequential(position):
            yield resources

    async def _concurrent(
        self, start: int, total: int, *, stop_early: bool
    ) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
        """Fetch the pages in [start, total], a few at a time.

        A sliding window: the next page is asked for as soon as one arrives,
        so the service always has work and no more parsed pages wait than
        the window holds. Tasks accept their pages before this generator
        yields them, so stopping early (everything announced has arrived)
        means starting no more, never cancelling a task that may hold a
        page already counted. Only a listing that fails or is abandoned
        cancels what still runs.
        """
        step = self.step
        starts = iter(range(start, total + 1, step))
        window = self.concurrency * WINDOW_PER_REQUEST
        running: set[_SpanTask] = set()
        done: set[_SpanTask] = set()
        try:
            while True:
                if not (stop_early and self._settled()):
                    for first in islice(starts, window - len(running)):
                        end = min(first + step, total + 1)
                        running.add(asyncio.create_task(self._span(first, end)))
                if not running:
                    return
                done, running = await asyncio.wait(
                    running, return_when=asyncio.FIRST_COMPLETED
                )
                while done:
                    for resources, end in done.pop().result():
                        yield resources, end
        finally:
            _discard(running | done)

    async def _span(
        self, start: int, end: int
    ) -> list[tuple[list[dict[str, Any]], int]]:
        """The span [start, end) of one page; a short (capped) page is filled in."""
        results = []
        position = start
        while position < end:
            page = await self._fetch(position, min(self.count, end - position), None)
            if not page.resources:
                break
            position += len(page.resources)
            results.append((self._accept(page), position))
        return results

    async def _sequential(self, position: int) -> AsyncIterator[list[dict[str, Any]]]:
        """Go on past the announced total, one page at a time, to the end.

        The end is an empty page, or a page beyond the total that brings
        nothing new (resources that shifted there were already received).
        """
        while True:
            page = await self._fetch(position, self.count, None)
            if not page.resources:
                return
            position += len(page.resources)
            fresh = self._accept(page)
            yield fresh
            self._guard_repeats(_IGNORED_START.format(position=position))
            if self._past_the_end(fresh, position):
                return

    def _past_the_end(self, fresh: list[dict[str, Any]], position: int) -> bool:
        """A page beyond the total that brought nothing new ends a listing.

        A page that repeats the one before does not: it is either a page
        served twice, or the first sign of a service ignoring startIndex,
        which the next page tells apart.
        """
        beyond = position > (self.state.total or 0)
        return beyond and not fresh and self._repeats == 0

    def _guard_repeats(self, what: str) -> None:
        # One repeat is a page served twice (records shifted between two
        # requests); the same page again and again is a service that ignores
        # the position it was asked for. Concurrent pages count in the order
        # they arrive: two different positions never hold the same page.
        if self._repeats >= 2:
            raise ProtocolError(
                f"{self._where}: {what}",
                hint="set pagination.method in the description, or report it "
                "to the provider",
            )

    async def _second_pass(self) -> AsyncIterator[list[dict[str, Any]]]:
        """List once more from the start, to pick up what shifted past us.

        When only some resources are missing (a page served twice in place
        of another), the pass ends once they have arrived. When the total
        moved, it reads the whole range: a removal shifts resources past
        the first pass even when the counts agree.
        """
        walk_all = self._moved
        logger.info(
            "GET %s: %d of %d resources after the first pass%s; listing again",
            self.endpoint,
            self.state.unique,
            self.state.total,
            " and totalResults moved" if walk_all else "",
        )
        self.state.passes += 1
        self._moved = False
        async for resources in self._index_pass(1, self.state.total, walk_all=walk_all):
            yield resources

    def _check_complete(self) -> None:
        total, unique = self.state.total, self.state.unique
        if total is not None and unique == 0 and total > 0:
            raise ProtocolError(
                f"{self._first_request}: the service announced {total} resources "
                "(totalResults) but listed none",
                hint="the service ignores startIndex or count here, or the token "
                "cannot see these resources; check the pagination section",
            )
        changed = self._moved and self.state.passes > 1
        if total is not None and unique < total:
            self._warn(
                f"{self.endpoint}: the service announced {total} but listed "
                f"{unique} distinct resources; the file holds those {unique}"
                + (f"; {_CHANGED}" if changed else "")
            )
        elif changed:
            self._warn(f"{self.endpoint}: {_CHANGED}")

    def _warn(self, message: str) -> None:
        logger.warning(message)
        self.state.warnings.append(message)


def _discard(tasks: set[_SpanTask]) -> None:
    """Cancel the spans still running; read the failures of those that ended.

    When several pages fail at once, the first failure ends the listing;
    an ended task whose failure nobody reads makes asyncio print it with
    its traceback after the run's one error line.
    """
    for task in tasks:
        if not task.done():
            task.cancel()
        elif not task.cancelled():
            task.exception()


def _id_path(provider: ProviderContext, endpoint: str) -> JsonPath:
    """Where a resource of this endpoint keeps its ID (the description's)."""
    mapper = provider.mapper
    return mapper.group_id if endpoint == "Groups" else mapper.user_id
