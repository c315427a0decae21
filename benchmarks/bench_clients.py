"""The two measured clients of bench_sync.py, each run as its own process.

``baseline`` fetches the pages a sync would ask for, one after the other,
with httpx, and parses each body; nothing else. ``sync`` runs the real sync
path (provider description, runtime.prepare, sync.sync_into, the c1z
writer) as the command line does. Each prints one JSON line on stdout with
the seconds of its work, measured the same way: from just before the first
request to the end (for the sync: the renamed c1z on disk).
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
    parser.add_argument("mode", choices=["baseline", "sync"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--page-size", type=int, required=True)
    parser.add_argument("--config", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--cpu", type=int)
    parser.add_argument("--profile")
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})

    function: Any = baseline if args.mode == "baseline" else sync
    call: tuple[Any, ...] = (args.url, args.token, args.page_size)
    if args.mode == "sync":
        call = (args.config, args.token, args.out, args.page_size)
    if args.profile:
        result = profiled(function, args.profile, *call)
    else:
        result = function(*call)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
