"""A generated SCIM directory served fast on 127.0.0.1, for benchmarks.

The server must never be what a benchmark measures, so it does next to no
work per request: every user and group is rendered to JSON once, when the
process starts, and each ListResponse page is joined from those fragments
the first time it is asked for and kept. It speaks just enough HTTP/1.1
(keep-alive, Content-Length) over a raw asyncio protocol, and runs in its
own process so that its CPU and memory are not the client's.

A fault mode answers a seeded share of the list requests with
``429 Too Many Requests`` and ``Retry-After: 0``, the way rate-limited SaaS
APIs do (providers.md: Slack, Miro, Zoom limits), without really waiting.

A latency setting holds each list answer back for a fixed time before it
is written, the way a remote service's round trip and its own database
query do; other connections are served meanwhile. By default the server
answers at once, so that a benchmark measures the client's own work.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import random
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
BASE_PATH = "/scim/v2/"
STATS_PATH = "/_bench/stats"
RESET_PATH = "/_bench/reset"
ROLES = ("Admin", "Billing Manager", "Support Tier2", "Developer", "Read Only")
FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Frances")
LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson")


@dataclass(frozen=True)
class DirectorySpec:
    """The size and shape of a generated directory."""

    users: int
    groups: int
    members: int = 20
    seed: int = 7
    page_size: int = 100


class Directory:
    """Users and groups of a spec, as pre-rendered JSON fragments."""

    def __init__(self, spec: DirectorySpec) -> None:
        rng = random.Random(spec.seed)
        self.user_ids = [
            str(uuid.UUID(int=rng.getrandbits(128), version=4))
            for _ in range(spec.users)
        ]
        self.fragments = {
            "Users": [self._user(rng, n) for n in range(spec.users)],
            "Groups": [self._group(rng, n, spec.members) for n in range(spec.groups)],
        }
        self._pages: dict[tuple[str, int, int], bytes] = {}
        for endpoint, fragments in self.fragments.items():
            # Render the pages a client will ask for now, not while timed.
            for start in range(1, len(fragments) + 1, spec.page_size):
                self.page(endpoint, start, spec.page_size)

    def _user(self, rng: random.Random, number: int) -> bytes:
        user_id = self.user_ids[number]
        first = FIRST_NAMES[number % len(FIRST_NAMES)]
        last = f"{LAST_NAMES[number % len(LAST_NAMES)]}{number}"
        login = f"{first}.{last}@example.com".lower()
        emails = [{"value": login, "type": "work", "primary": True}]
        if number % 3 == 0:
            emails.insert(0, {"value": f"{last}@home.example".lower(), "type": "home"})
        user = {
            "schemas": [USER_SCHEMA],
            "id": user_id,
            "externalId": f"emp-{number:07d}",
            "userName": login,
            "name": {
                "givenName": first,
                "familyName": last,
                "formatted": f"{first} {last}",
            },
            "displayName": f"{first} {last}",
            "active": number % 10 != 0,
            "emails": emails,
            "roles": [
                {"value": role, "display": role, "type": "WorkRole"}
                for role in rng.sample(ROLES, rng.randint(0, 2))
            ],
            "meta": _meta("User", user_id, number),
        }
        return _dump(user)

    def _group(self, rng: random.Random, number: int, members: int) -> bytes:
        group_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        chosen = rng.sample(range(len(self.user_ids)), min(members, len(self.user_ids)))
        group = {
            "schemas": [GROUP_SCHEMA],
            "id": group_id,
            "displayName": f"Team {number:05d}",
            "members": [
                {
                    "value": self.user_ids[n],
                    "display": f"{FIRST_NAMES[n % len(FIRST_NAMES)]} user {n}",
                    "type": "User",
                    "$ref": f"{BASE_PATH}Users/{self.user_ids[n]}",
                }
                for n in chosen
            ],
            "meta": _meta("Group", group_id, number),
        }
        return _dump(group)

    def page(self, endpoint: str, start: int, count: int) -> bytes | None:
        """The ListResponse of one page; None for an unknown endpoint."""
        fragments = self.fragments.get(endpoint)
        if fragments is None:
            return None
        key = (endpoint, start, count)
        cached = self._pages.get(key)
        if cached is None:
            cached = self._render(fragments, max(start, 1), max(count, 0))
            self._pages[key] = cached
        return cached

    @staticmethod
    def _render(fragments: list[bytes], start: int, count: int) -> bytes:
        chosen = fragments[start - 1 : start - 1 + count]
        head = {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(fragments),
            "itemsPerPage": len(chosen),
            "startIndex": start,
        }
        return _dump(head)[:-1] + b',"Resources":[' + b",".join(chosen) + b"]}"


def _meta(kind: str, resource_id: str, number: int) -> dict[str, Any]:
    stamp = f"2024-{1 + number % 12:02d}-{1 + number % 28:02d}T08:00:00Z"
    return {
        "resourceType": kind,
        "created": stamp,
        "lastModified": stamp,
        "location": f"https://scim.example.com{BASE_PATH}{kind}s/{resource_id}",
        "version": f'W/"{number:x}"',
    }


def _dump(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


class Counters:
    """What the server answered since the last reset."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.requests = 0
        self.throttled = 0
        self.by_endpoint: dict[str, int] = {}

    def as_json(self) -> bytes:
        return _dump(
            {
                "requests": self.requests,
                "throttled": self.throttled,
                "by_endpoint": self.by_endpoint,
            }
        )


class _Handler(asyncio.Protocol):
    """One keep-alive connection: requests in, pre-rendered pages out."""

    def __init__(self, server: BenchServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                return  # wait for the rest of the body
            self.buffer = self.buffer[end + 4 + length :]
            self._send(self.server.answer(head), self.server.delay_for(head))

    def _send(self, response: bytes, delay: float) -> None:
        assert self.transport is not None
        if not delay:
            self.transport.write(response)
            return
        loop = asyncio.get_running_loop()
        loop.call_later(delay, self._write_later, response)

    def _write_later(self, response: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(response)


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    line_end = lower.find(b"\r\n", at + 2)
    value = lower[at + 17 : line_end if line_end >= 0 else len(lower)]
    return int(value.strip() or 0)


class BenchServer:
    """Answers list requests from a Directory; optionally throttles some."""

    def __init__(self, directory: Directory, token: str) -> None:
        self.directory = directory
        self.auth = f"authorization: bearer {token}".lower().encode()
        self.counters = Counters()
        self.fault_rate = 0.0
        self.latency = 0.0
        self.rng = random.Random(0)

    def delay_for(self, head: bytes) -> float:
        """How long to hold back the answer: list requests only."""
        if not self.latency or b" /_bench/" in head.split(b"\r\n", 1)[0]:
            return 0.0
        return self.latency

    def answer(self, head: bytes) -> bytes:
        """The whole HTTP response to one request head."""
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        _, target, _ = request_line.split(" ", 2)
        url = urlsplit(target)
        if url.path == STATS_PATH:
            return _response(200, self.counters.as_json())
        if url.path == RESET_PATH:
            return self._reset(dict(parse_qsl(url.query)))

        self.counters.requests += 1
        if self.auth not in head.lower():
            return _error(401, "the bearer token is missing or wrong")
        if self.fault_rate and self.rng.random() < self.fault_rate:
            self.counters.throttled += 1
            return _error(429, "too many requests", b"Retry-After: 0\r\n")
        return self._page(url.path, dict(parse_qsl(url.query)))

    def _reset(self, query: dict[str, str]) -> bytes:
        self.counters.reset()
        self.fault_rate = float(query.get("fault_rate", 0))
        self.latency = float(query.get("latency_ms", 0)) / 1000
        self.rng = random.Random(int(query.get("seed", 0)))
        return _response(200, b"{}")

    def _page(self, path: str, query: dict[str, str]) -> bytes:
        endpoint = path.removeprefix(BASE_PATH)
        self.counters.by_endpoint[endpoint] = (
            self.counters.by_endpoint.get(endpoint, 0) + 1
        )
        start = int(query.get("startIndex", 1))
        count = int(query.get("count", 100))
        body = self.directory.page(endpoint, start, count)
        if body is None:
            return _error(404, f"no endpoint {endpoint}")
        return _response(200, body)


def _response(status: int, body: bytes, extra: bytes = b"") -> bytes:
    reasons = {200: "OK", 401: "Unauthorized", 404: "Not Found", 429: "Too Many"}
    head = (
        f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\n"
        "Content-Type: application/scim+json\r\n"
        f"Content-Length: {len(body)}\r\n"
    ).encode()
    return head + extra + b"\r\n" + body


def _error(status: int, detail: str, extra: bytes = b"") -> bytes:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    return _response(status, _dump(body), extra)


def serve(spec: DirectorySpec, token: str, ready: Any, cpu: int | None) -> None:
    """Process entry point: build the directory, listen, report the port."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    directory = Directory(spec)
    asyncio.run(_serve(directory, token, ready))


async def _serve(directory: Directory, token: str, ready: Any) -> None:
    server = BenchServer(directory, token)
    loop = asyncio.get_running_loop()
    listener = await loop.create_server(
        lambda: _Handler(server), "127.0.0.1", 0, backlog=128
    )
    ready.send(listener.sockets[0].getsockname()[1])
    ready.close()
    async with listener:
        await listener.serve_forever()


class ServerProcess:
    """A BenchServer in a child process, stopped when the block ends."""

    def __init__(self, spec: DirectorySpec, token: str, cpu: int | None) -> None:
        self.spec = spec
        self.token = token
        self.cpu = cpu
        self.process: Any = None
        self.url = ""

    def __enter__(self) -> ServerProcess:
        context = multiprocessing.get_context("spawn")
        receive, send = context.Pipe(duplex=False)
        process = context.Process(
            target=serve, args=(self.spec, self.token, send, self.cpu), daemon=True
        )
        process.start()
        self.process = process
        send.close()
        if not receive.poll(600):
            raise RuntimeError("the benchmark server did not start")
        port = receive.recv()
        self.url = f"http://127.0.0.1:{port}{BASE_PATH}"
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.join(10)
