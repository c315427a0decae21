"""Listing every resource of an endpoint, page by page, and always ending.

Index paging (RFC 7644 §3.4.2.4): the first page shows the total and how
many resources the service really returns per page; the remaining pages
are then fetched concurrently (bounded). The position always advances by
the number of resources received, never by ``itemsPerPage``, and
duplicates across pages are dropped by ID. Cursor paging (RFC 9865) is
followed whenever the service hands out ``nextCursor``.

Termination is guaranteed: an empty page ends a listing, a page that
brings nothing new twice in a row is an error, and a listing never asks
for more than ``max_pages`` pages.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import ProtocolError
from .http import ScimClient
from .jsonpath import compile_path
from .mapping import as_id
from .provider import ListPage, ProviderContext

logger = logging.getLogger(__name__)

PageCallback = Callable[["ListingState"], None]


@dataclass
class ListingState:
    """Where one listing stands; shown as progress."""

    endpoint: str
    total: int | None = None
    received: int = 0
    unique: int = 0
    pages: int = 0
    duplicates: int = 0
    warnings: list[str] = field(default_factory=list)


def read_list_response(provider: ProviderContext, endpoint: str, body: Any) -> ListPage:
    """Read a ListResponse through the description's pagination paths.

    A missing ``Resources`` means an empty page (RFC 7644 allows omitting
    it when there are no results); ``null`` lists count as empty too.
    """
    if not isinstance(body, dict):
        raise ProtocolError(
            f"GET {endpoint}: the answer is not a SCIM ListResponse object",
            hint="check apiEndpoint",
        )
    resources = body.get("Resources")
    if resources is None:
        resources = body.get("resources") or []
    if not isinstance(resources, list):
        raise ProtocolError(
            f"GET {endpoint}: 'Resources' is a {type(resources).__name__}, not a list",
            hint="the service does not speak SCIM 2.0 here; check apiEndpoint",
        )
    paths = _paging_paths(provider)
    cursor = body.get("nextCursor")
    return ListPage(
        resources=[item for item in resources if isinstance(item, dict)],
        total_results=_as_int(paths["total"].first(body)),
        start_index=_as_int(paths["start"].first(body)),
        items_per_page=_as_int(paths["per_page"].first(body)),
        next_cursor=cursor if isinstance(cursor, str) and cursor else None,
    )


def _paging_paths(provider: ProviderContext) -> dict[str, Any]:
    cached = provider.options.get("_paging_paths")
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


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class Lister:
    """Lists one endpoint (``Users`` or ``Groups``) to the end."""

    def __init__(
        self,
        client: ScimClient,
        provider: ProviderContext,
        endpoint: str,
        *,
        on_page: PageCallback | None = None,
        max_pages: int = 1_000_000,
    ) -> None:
        self.client = client
        self.provider = provider
        self.endpoint = endpoint
        self.state = ListingState(endpoint)
        self._on_page = on_page
        self._seen: set[str] = set()
        self._stale_pages = 0
        self._max_pages = max_pages
        pagination = provider.config.pagination
        self.count = min(
            pagination.page_size, pagination.max_page_size or pagination.page_size
        )
        self.concurrency = pagination.concurrency

    async def pages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Yield the new (not yet seen) resources of each page."""
        method = self.provider.config.pagination.method
        first = await self._fetch(1, self.count, "" if method == "cursor" else None)
        yield self._accept(first)

        if first.next_cursor and method != "index":
            async for resources in self._follow_cursor(first.next_cursor):
                yield resources
            return
        if not first.resources:
            return
        async for resources in self._by_index(first):
            yield resources
        if self._incomplete():
            async for resources in self._sweep():
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
        body = await self.client.get_json(self.endpoint, params=params)
        page: ListPage = hooks.baton_scim_read_page(
            provider=self.provider, endpoint=self.endpoint, body=body
        )
        self.state.pages += 1
        return page

    def _guard_page_budget(self) -> None:
        if self.state.pages >= self._max_pages:
            raise ProtocolError(
                f"GET {self.endpoint}: still paging after {self.state.pages} pages",
                hint="the service's paging does not end; report it to the provider",
            )

    def _accept(self, page: ListPage) -> list[dict[str, Any]]:
        """Keep the resources not seen before; track totals and staleness."""
        if page.total_results is not None:
            self.state.total = page.total_results
        fresh = []
        for resource in page.resources:
            key = as_id(resource.get("id")) or str(id(resource))
            if key in self._seen:
                self.state.duplicates += 1
                continue
            self._seen.add(key)
            fresh.append(resource)
        self.state.received += len(page.resources)
        self.state.unique += len(fresh)
        self._note_staleness(page, fresh)
        if self._on_page:
            self._on_page(self.state)
        return fresh

    def _note_staleness(self, page: ListPage, fresh: list[dict[str, Any]]) -> None:
        if page.resources and not fresh:
            self._stale_pages += 1
            logger.debug(
                "GET %s: a page brought only resources seen before", self.endpoint
            )
        else:
            self._stale_pages = 0

    async def _follow_cursor(self, cursor: str) -> AsyncIterator[list[dict[str, Any]]]:
        used = set()
        next_cursor: str | None = cursor
        while next_cursor:
            if next_cursor in used:
                raise ProtocolError(
                    f"GET {self.endpoint}: the service gave the same cursor twice",
                    hint="its cursor paging loops; set pagination.method: index",
                )
            used.add(next_cursor)
            page = await self._fetch(0, self.count, next_cursor)
            yield self._accept(page)
            next_cursor = page.next_cursor if page.resources else None

    async def _by_index(self, first: ListPage) -> AsyncIterator[list[dict[str, Any]]]:
        step = len(first.resources)
        position = 1 + step
        total = first.total_results
        if total is not None and position <= total:
            async for resources, end in self._concurrent(position, total, step):
                yield resources
                position = max(position, end)
        if total is not None and self.state.unique >= total:
            return  # RFC 7644 §3.4.2.4: everything announced has arrived
        self._stale_pages = 0
        async for resources in self._sequential(position):
            yield resources

    async def _concurrent(
        self, start: int, total: int, step: int
    ) -> AsyncIterator[tuple[list[dict[str, Any]], int]]:
        """Fetch the pages the first page announced, a few at a time."""
        starts = list(range(start, total + 1, step))
        for batch_start in range(0, len(starts), self.concurrency * 4):
            batch = starts[batch_start : batch_start + self.concurrency * 4]
            tasks = [
                asyncio.create_task(self._span(s, min(s + step, total + 1)))
                for s in batch
            ]
            try:
                for task in asyncio.as_completed(tasks):
                    for resources, end in await task:
                        yield resources, end
            finally:
                for task in tasks:
                    task.cancel()

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
        """Keep going past the announced total until an empty page."""
        while True:
            if self._stale_pages >= 2:
                raise ProtocolError(
                    f"GET {self.endpoint}: pages from startIndex={position} repeat "
                    "resources already received",
                    hint="the service seems to ignore startIndex; lower concurrency "
                    "or report it to the provider",
                )
            page = await self._fetch(position, self.count, None)
            if not page.resources:
                return
            position += len(page.resources)
            yield self._accept(page)

    def _incomplete(self) -> bool:
        total = self.state.total
        return total is not None and self.state.unique < total

    async def _sweep(self) -> AsyncIterator[list[dict[str, Any]]]:
        """List once more from the start, one page at a time.

        Pages shift when resources are added or removed mid-listing, and
        some services serve a page twice; a second, sequential pass picks
        up what the first one missed (duplicates are dropped by ID).
        """
        logger.info(
            "GET %s: %d of %d resources after the first pass; listing again",
            self.endpoint,
            self.state.unique,
            self.state.total,
        )
        position = 1
        while self._incomplete():
            page = await self._fetch(position, self.count, None)
            if not page.resources:
                return
            position += len(page.resources)
            yield self._accept(page)

    def _check_complete(self) -> None:
        total = self.state.total
        if total is not None and self.state.unique < total:
            message = (
                f"{self.endpoint}: the service announced {total} but listed "
                f"{self.state.unique} distinct resources"
            )
            logger.warning(message)
            self.state.warnings.append(message)
