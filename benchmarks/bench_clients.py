"""The measured clients of bench_sync.py, each run as its own process.

``baseline`` fetches the pages a sync would ask for, one after the other,
with httpx, and parses each body; nothing else. ``sync`` runs the real sync
path (provider description, runtime.prepare, sync.sync_into, the c1z
writer) as the command line does. Two more take the sync apart: ``fetch``
runs only its client and paging (every page fetched and parsed, nothing
mapped or kept), ``write`` only its c1z writer (the rows of a finished
sync's file written again into a new one, no network). ``floor`` is what
the design sets before any code of ours: a bare ``httpx.AsyncClient``
fetching the same pages, ``--concurrency`` at a time, parsed with the
sync's parser and dropped. Each prints one JSON
line on stdout with the seconds of its work, measured the same way: from
just before the first request (or row) to the end (for the sync and the
writer: the renamed c1z on disk).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

ENDPOINTS = ("Users", "Groups")


def baseline(url: str, token: str, page_size: int) -> dict[str, Any]:
    """Fetch and parse every page of both endpoints in sequence."""
    import httpx

    headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"}
    started, cpu = time.perf_counter(), cpu_seconds()
    pages = resources = 0
    with httpx.Client(base_url=url, headers=headers, timeout=300) as client:
        for endpoint in ENDPOINTS:
            start, total = 1, None
            while total is None or start <= total:
                query = {"startIndex": str(start), "count": str(page_size)}
                body = json.loads(client.get(endpoint, params=query).content)
                pages += 1
                total = body["totalResults"]
                received = len(body["Resources"])
                if not received:
                    break
                resources += received
                start += received
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {"seconds": seconds, "cpu": cpu, "pages": pages, "resources": resources}


def floor(url: str, token: str, page_size: int, concurrency: int) -> dict[str, Any]:
    """The same pages through a bare httpx.AsyncClient, a few at a time.

    The first page of each endpoint gives the total, as in the sync; the
    rest are fetched ``concurrency`` at a time. Nothing else happens to
    them: no retries, checks, mapping or writing.
    """
    import httpx
    import msgspec

    headers = {"Authorization": f"Bearer {token}", "Accept": "application/scim+json"}
    decode = msgspec.json.Decoder().decode

    async def page(client: httpx.AsyncClient, endpoint: str, start: int) -> Any:
        query = {"startIndex": str(start), "count": str(page_size)}
        return decode((await client.get(endpoint, params=query)).content)

    async def worker(client: httpx.AsyncClient, endpoint: str, starts: Any) -> int:
        # Workers share one iterator of positions: never more in flight
        # than there are workers, and nothing waiting on a lock.
        received = 0
        for start in starts:
            received += len((await page(client, endpoint, start))["Resources"])
        return received

    async def every_page() -> tuple[int, int]:
        pages = resources = 0
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=300) as c:
            for endpoint in ENDPOINTS:
                first = await page(c, endpoint, 1)
                step = len(first["Resources"]) or page_size
                starts = range(1 + step, first["totalResults"] + 1, step)
                shared = iter(starts)
                workers = [worker(c, endpoint, shared) for _ in range(concurrency)]
                counts = await asyncio.gather(*workers)
                pages += 1 + len(starts)
                resources += len(first["Resources"]) + sum(counts)
        return pages, resources

    started, cpu = time.perf_counter(), cpu_seconds()
    pages, resources = asyncio.run(every_page())
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {"seconds": seconds, "cpu": cpu, "pages": pages, "resources": resources}


def sync(config: Path, token: str, out: Path, page_size: int) -> dict[str, Any]:
    """One sync into ``out``, set up as the command line sets it up."""
    from baton_scim.cli.output import configure_logging
    from baton_scim.logs import redactor
    from baton_scim.provider import Credentials
    from baton_scim.runtime import prepare
    from baton_scim.settings import Settings
    from baton_scim.sync import sync_into
    from pydantic import SecretStr

    # The CLI's defaults when stderr is not a terminal: JSON logs at info.
    configure_logging("info", "json")
    redactor.add(token)
    settings = Settings(
        scim_config=config,
        credentials=Credentials(api_key=SecretStr(token)),
        file=out,
        page_size=page_size,
    )
    context = prepare(settings)

    started, cpu = time.perf_counter(), cpu_seconds()
    summary = asyncio.run(sync_into(context, settings))
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {"seconds": seconds, "cpu": cpu, **summary.as_dict()}


def fetch(config: Path, token: str, page_size: int) -> dict[str, Any]:
    """The sync's client and paging alone: every page of both endpoints."""
    from baton_scim.paging import Lister
    from baton_scim.provider import Credentials
    from baton_scim.runtime import prepare
    from baton_scim.settings import Settings
    from pydantic import SecretStr

    settings = Settings(
        scim_config=config,
        credentials=Credentials(api_key=SecretStr(token)),
        file=Path("unused.c1z"),
        page_size=page_size,
    )
    context = prepare(settings)

    async def every_page() -> int:
        from baton_scim.http import ScimClient

        auth = context.options["auth"]
        async with ScimClient(context, auth, timeout=300) as client:
            count = 0
            for endpoint in ENDPOINTS:
                async for resources in Lister(client, context, endpoint).pages():
                    count += len(resources)
            return count

    started, cpu = time.perf_counter(), cpu_seconds()
    resources = asyncio.run(every_page())
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    return {"seconds": seconds, "cpu": cpu, "resources": resources}


def write(source: Path, out: Path) -> dict[str, Any]:
    """The c1z writer alone: the latest sync of ``source`` written to ``out``."""
    from baton_scim.c1z import C1zReader, C1zWriter
    from baton_scim.c1z import messages as m

    with C1zReader(source) as reader:
        sync_id = reader.latest_sync_id()
        rows = {table: _rows(reader.connection, table, sync_id) for table in TABLES}
    resource_types = [m.ResourceType.FromString(r[1]) for r in rows["resource_types"]]
    entitlements = [m.Entitlement.FromString(r[3]) for r in rows["entitlements"]]

    started, cpu = time.perf_counter(), cpu_seconds()
    with C1zWriter(out) as writer:
        for resource_type in resource_types:
            writer.add_resource_type(resource_type)
        for kind, external_id, parent_kind, parent_id, data in rows["resources"]:
            resource_id = external_id[len(kind) + 1 :]
            writer.add_resource_data(kind, resource_id, data, parent_kind, parent_id)
        for entitlement in entitlements:
            writer.add_entitlement(entitlement)
        for grant in rows["grants"]:
            writer.add_grant_data(*grant)
        writer.finish()
    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    count = sum(len(table_rows) for table_rows in rows.values())
    return {"seconds": seconds, "cpu": cpu, "rows": count}


TABLES = {
    "resource_types": "external_id, data",
    "resources": "resource_type_id, external_id, parent_resource_type_id,"
    " parent_resource_id, data",
    "entitlements": "resource_type_id, resource_id, external_id, data",
    "grants": "resource_type_id, resource_id, entitlement_id,"
    " principal_resource_type_id, principal_resource_id, external_id, data",
}


def _rows(conn: Any, table: str, sync_id: str) -> list[tuple[Any, ...]]:
    query = f"select {TABLES[table]} from v1_{table} where sync_id = ? order by id"
    return [
        tuple(bytes(v) if isinstance(v, memoryview) else v for v in row)
        for row in conn.execute(query, (sync_id,))
    ]


def cpu_seconds() -> float:
    """CPU time of this process so far, user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def profiled(function: Any, output: str, *args: Any) -> Any:
    """Run under cProfile and keep the stats in ``output``."""
    import cProfile

    profiler = cProfile.Profile()
    result = profiler.runcall(function, *args)
    profiler.dump_stats(output)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "mode", choices=["baseline", "sync", "fetch", "write", "floor"]
    )
    parser.add_argument("--url", default="")
    parser.add_argument("--token", default="")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--source", type=Path, help="the c1z that write copies")
    parser.add_argument("--cpu", type=int)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--profile")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    calls: dict[str, tuple[Any, ...]] = {
        "baseline": (baseline, args.url, args.token, args.page_size),
        "sync": (sync, args.config, args.token, args.out, args.page_size),
        "fetch": (fetch, args.config, args.token, args.page_size),
        "write": (write, args.source, args.out),
        "floor": (floor, args.url, args.token, args.page_size, args.concurrency),
    }
    function, *call = calls[args.mode]
    if args.profile:
        result = profiled(function, args.profile, *call)
    else:
        result = function(*call)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
