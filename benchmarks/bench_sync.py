"""Time a whole sync against a generated SCIM directory, beside a fetch baseline.

Run from the repository root (after ``python3 dev.py setup``):

    .venv/bin/python benchmarks/bench_sync.py                 # 10k, 100k, 429s
    .venv/bin/python benchmarks/bench_sync.py --users 300 --groups 20

For each size a server process (benchmarks/directory_server.py) serves the
directory on 127.0.0.1; then two client processes run against the same
server, one after the other: the fetch-only baseline (the same pages, in
sequence, parsed and dropped) and the real sync into a c1z file. Each
client is its own process so that its peak RSS is its own (wait4 rusage).
With two or more CPUs the server gets one and the clients another.

The last run repeats the largest size against the same server answering
429 (Retry-After: 0) to a seeded share of the requests, and prints the
retries, the slowdown against the clean sync, and whether the file holds
exactly the rows of the clean run.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from directory_server import (  # noqa: E402
    RESET_PATH,
    STATS_PATH,
    DirectorySpec,
    ServerProcess,
)

TOKEN = "bench-token-0123456789"
# The sync's pages in flight: pagination.concurrency, left at its default.
FLOOR_CONCURRENCY = 4
DEFAULT_SIZES = (10_000, 100_000)
CONFIG = """\
apiEndpoint: "{url}"
hasScimHeader: true
auth:
  authType: "apiKey"
  apiKeyPrefix: "Bearer"
user:
  id: "id"
  userName: "userName"
  firstName: "name.givenName"
  lastName: "name.familyName"
  primaryEmail: "emails[?(@.primary==true)].value"
  firstEmail: "emails[0].value"
  active: "active"
  roles:
    path: "roles"
    name: "value"
    display: "display"
group:
  id: "id"
  displayName: "displayName"
  members:
    path: "members"
    id: "value"
    displayName: "display"
pagination:
  totalResults: "totalResults"
  itemsPerPage: "itemsPerPage"
  startIndex: "startIndex"
http:
  # With 429s at random, one request is refused six times running once in
  # 15,625 tries at 20%: likely enough over the 1,341 requests of the 100k
  # run. Ten tries make it once in ten million.
  maxAttempts: 10
"""


@dataclass
class Run:
    """One measured client process."""

    seconds: float
    rss_mb: float
    output: dict[str, Any]
    served: dict[str, Any]


@dataclass
class Row:
    """One line of the results table."""

    users: int
    groups: int
    page_size: int
    pages: int
    requests: int
    baseline_s: float
    sync_s: float
    baseline_cpu_s: float
    sync_cpu_s: float
    ratio: float
    sync_rss_mb: float
    baseline_rss_mb: float
    file_mb: float
    fault_rate: float = 0.0
    throttled: int = 0
    retries: int = 0
    same_rows: bool | None = None
    fetch: dict[str, Any] | None = None
    write: dict[str, Any] | None = None
    floor: dict[str, Any] | None = None
    latency_ms: float = 0.0


class Bench:
    """Runs the clients against one server, pinned to their CPUs."""

    def __init__(self, server: ServerProcess, workdir: Path, args: Any) -> None:
        self.server = server
        self.workdir = workdir
        self.args = args
        self.client_cpu = args.cpus[0] if args.pin else None
        self.config = workdir / "bench.yaml"
        self.config.write_text(CONFIG.format(url=server.url))

    def rounds(
        self, files: dict[float, Path]
    ) -> tuple[list[Run], dict[float, list[Run]]]:
        """``--repeat`` rounds: the baseline, then a sync per fault rate.

        Rounds interleave the clients, so that a busy spell on a shared
        machine slows all of them rather than one.
        """
        baselines: list[Run] = []
        syncs: dict[float, list[Run]] = {rate: [] for rate in files}
        for _ in range(self.args.repeat):
            baselines.append(self._client("baseline"))
            for rate, out in files.items():
                out.unlink(missing_ok=True)  # each run writes a fresh file
                syncs[rate].append(self._client("sync", out, rate))
        return baselines, syncs

    def parts(self, clean: Path) -> tuple[Run, Run, dict[int, Run]]:
        """Best of ``--repeat`` runs of the sync's fetch path, its writer, the floor.

        The floor runs one page at a time and as many at a time as the sync
        (the description's ``pagination.concurrency``).
        """
        fetches, writes = [], []
        floors: dict[int, list[Run]] = {1: [], FLOOR_CONCURRENCY: []}
        rewritten = self.workdir / "rewritten.c1z"
        for _ in range(self.args.repeat):
            fetches.append(self._client("fetch"))
            rewritten.unlink(missing_ok=True)  # a fresh file, as the sync writes
            writes.append(self._client("write", rewritten, source=clean))
            for concurrency, runs in floors.items():
                runs.append(self._client("floor", concurrency=concurrency))
        best_floors = {n: _best(runs) for n, runs in floors.items()}
        return _best(fetches), _best(writes), best_floors

    def _client(
        self,
        mode: str,
        out: Path | None = None,
        rate: float = 0.0,
        source: Path | None = None,
        concurrency: int | None = None,
    ) -> Run:
        self._control(
            f"{RESET_PATH}?fault_rate={rate}&seed={self.args.seed}"
            f"&latency_ms={self.args.latency_ms}"
        )
        command = [
            sys.executable,
            str(HERE / "bench_clients.py"),
            mode,
            "--url",
            self.server.url,
            "--token",
            TOKEN,
            "--page-size",
            str(self.args.page_size),
        ]
        if mode in ("sync", "fetch"):
            command += ["--config", str(self.config)]
        if out is not None:
            command += ["--out", str(out)]
        if source is not None:
            command += ["--source", str(source)]
        if concurrency is not None:
            command += ["--concurrency", str(concurrency)]
        if mode == "sync" and self.args.profile:
            name = f"sync-{self.server.spec.users}-{rate:g}.prof"
            command += ["--profile", str(Path(self.args.profile) / name)]
        if self.client_cpu is not None:
            command += ["--cpu", str(self.client_cpu)]
        output, rss_kib = _run_measured(command, self.workdir / f"{mode}.log")
        served = json.loads(self._control(STATS_PATH))
        return Run(output["seconds"], rss_kib / 1024, output, served)

    def _control(self, path: str) -> bytes:
        url = urlsplit(self.server.url)
        connection = http.client.HTTPConnection(url.hostname or "", url.port)
        try:
            connection.request("GET", path)
            return connection.getresponse().read()
        finally:
            connection.close()


def _run_measured(command: list[str], log: Path) -> tuple[dict[str, Any], int]:
    """Run a client; return its JSON line and its own peak RSS in KiB."""
    with log.open("wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        assert process.stdout is not None
        text = process.stdout.read()
        process.stdout.close()
        # wait4 gives the rusage of this one child, not of all children so far.
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise SystemExit(f"{command[2]} failed ({process.returncode}):\n{tail}")
    return json.loads(text.decode().strip().splitlines()[-1]), usage.ru_maxrss


def content_digest(path: Path) -> str:
    """A digest of every row of the latest sync, whatever the row order."""
    from baton_scim.c1z import C1zReader

    digest = hashlib.sha256()
    with C1zReader(path) as reader:
        sync_id = reader.latest_sync_id()
        conn = reader.connection
        for table in (
            "v1_resource_types",
            "v1_resources",
            "v1_entitlements",
            "v1_grants",
        ):
            rows = conn.execute(
                f"select external_id, data from {table} where sync_id = ?"
                " order by external_id",
                (sync_id,),
            )
            for external_id, data in rows:
                digest.update(external_id.encode() + b"\0" + bytes(data) + b"\0")
    return digest.hexdigest()


def measure(users: int, groups: int, args: Any, workdir: Path) -> list[Row]:
    """The clean rows for one size, plus the fault row when asked for it."""
    spec = DirectorySpec(
        users, groups, members=args.members, seed=args.seed, page_size=args.page_size
    )
    server_cpu = args.cpus[1] if args.pin else None
    files = {0.0: workdir / f"clean-{users}.c1z"}
    if args.faults and users == max(args.users):
        files[args.faults] = workdir / f"faults-{users}.c1z"
    parts = None
    with ServerProcess(spec, TOKEN, server_cpu) as server:
        bench = Bench(server, workdir, args)
        baselines, syncs = bench.rounds(files)
        if args.parts and users == max(args.users):
            parts = bench.parts(files[0.0])

    clean = _best(syncs[0.0])
    rows = [_row(spec, args, _best(baselines), clean, files[0.0])]
    if parts is not None:
        fetched, written, floors = parts
        rows[0].floor = {
            str(n): {"s": run.seconds, "cpu_s": run.output["cpu"]}
            for n, run in floors.items()
        }
        rows[0].fetch = {
            "s": fetched.seconds,
            "cpu_s": fetched.output["cpu"],
            "resources": fetched.output["resources"],
        }
        rows[0].write = {
            "s": written.seconds,
            "cpu_s": written.output["cpu"],
            "rows": written.output["rows"],
        }
    if args.faults and args.faults in syncs:
        faulty = syncs[args.faults]
        row = _row(spec, args, _best(baselines), _best(faulty), files[args.faults])
        row.fault_rate = args.faults
        # Each round's 429 run against its own clean run: drift between
        # rounds cancels out.
        row.ratio = statistics.median(
            bad.seconds / good.seconds
            for bad, good in zip(faulty, syncs[0.0], strict=True)
        )
        row.same_rows = content_digest(files[args.faults]) == content_digest(files[0.0])
        rows.append(row)
    return rows


def _best(runs: list[Run]) -> Run:
    return min(runs, key=lambda run: run.seconds)


def _row(spec: DirectorySpec, args: Any, base: Run, sync: Run, file: Path) -> Row:
    return Row(
        users=spec.users,
        groups=spec.groups,
        page_size=args.page_size,
        pages=base.output["pages"],
        requests=sync.served["requests"],
        baseline_s=base.seconds,
        sync_s=sync.seconds,
        baseline_cpu_s=base.output["cpu"],
        sync_cpu_s=sync.output["cpu"],
        ratio=sync.seconds / base.seconds,
        sync_rss_mb=sync.rss_mb,
        baseline_rss_mb=base.rss_mb,
        file_mb=file.stat().st_size / 1e6,
        latency_ms=args.latency_ms,
        throttled=sync.served["throttled"],
        retries=sync.output.get("retries", 0),
    )


HEADER = (
    f"{'users':>8} {'groups':>6} {'page':>4} {'pages':>6} {'requests':>8} "
    f"{'baseline s':>10} {'sync s':>7} {'ratio':>6} {'base cpu s':>10} "
    f"{'sync cpu s':>10} {'sync RSS MB':>11} {'base RSS MB':>11} {'file MB':>7}"
)


def print_table(rows: list[Row]) -> None:
    """The results as quoted in benchmarks/README.md."""
    clean = [row for row in rows if not row.fault_rate]
    if rows and rows[0].latency_ms:
        print(f"every list answer held back {rows[0].latency_ms:g} ms by the server")
    print(HEADER)
    for row in clean:
        print(
            f"{row.users:>8,} {row.groups:>6,} {row.page_size:>4} {row.pages:>6,} "
            f"{row.requests:>8,} {row.baseline_s:>10.2f} {row.sync_s:>7.2f} "
            f"{row.ratio:>5.2f}x {row.baseline_cpu_s:>10.2f} {row.sync_cpu_s:>10.2f} "
            f"{row.sync_rss_mb:>11.1f} {row.baseline_rss_mb:>11.1f} {row.file_mb:>7.2f}"
        )
    if len(clean) > 1:
        small = min(clean, key=lambda row: row.users)
        large = max(clean, key=lambda row: row.users)
        print(
            f"peak RSS of the sync: {large.users:,} users {large.sync_rss_mb:.1f} MB, "
            f"{small.users:,} users {small.sync_rss_mb:.1f} MB "
            f"({large.sync_rss_mb / small.sync_rss_mb:.2f}x)"
        )
    for row in rows:
        if row.fault_rate:
            same_size = [other for other in clean if other.users == row.users]
            _print_fault_row(row, same_size[0])
        if row.fetch and row.write:
            _print_parts(row, row.fetch, row.write)
        if row.floor:
            _print_floor(row, row.floor)


def _share(row: Row, name: str, seconds: float, cpu: float) -> str:
    share = seconds / row.baseline_s
    return f"{name} {seconds:.2f} s ({share:.2f}x the baseline, {cpu:.2f} cpu s)"


def _print_parts(row: Row, fetch: dict[str, Any], write: dict[str, Any]) -> None:
    print(
        f"the sync taken apart, {row.users:,} users: "
        + "; ".join(
            [
                _share(row, "its fetch path alone", fetch["s"], fetch["cpu_s"]),
                _share(row, "its c1z writer alone", write["s"], write["cpu_s"]),
                _share(row, "the whole sync", row.sync_s, row.sync_cpu_s),
            ]
        )
    )


def _print_floor(row: Row, floor: dict[str, Any]) -> None:
    """The bare AsyncClient runs: what any sync of this design costs at least."""
    runs = []
    for n, run in floor.items():
        label = "one at a time" if n == "1" else f"{n} at a time"
        runs.append(_share(row, label, run["s"], run["cpu_s"]))
    print(
        f"the floor, {row.users:,} users: a bare httpx.AsyncClient fetching and "
        "parsing the same pages, nothing else: " + "; ".join(runs)
    )


def _print_fault_row(row: Row, clean: Row) -> None:
    print(
        f"429 run: {row.users:,} users, {row.fault_rate:.0%} of requests answered "
        f"429 (Retry-After: 0): {row.requests:,} requests, {row.throttled:,} "
        f"answered 429, {row.retries:,} retries; {row.sync_s:.2f} s against "
        f"{clean.sync_s:.2f} s clean, slowdown {row.ratio:.2f}x (median of the "
        f"rounds), {row.sync_cpu_s:.2f} cpu s, peak RSS {row.sync_rss_mb:.1f} MB, "
        f"same rows as the clean run: {'yes' if row.same_rows else 'NO'}"
    )


def parse_args(argv: list[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--users",
        type=int,
        nargs="+",
        default=list(DEFAULT_SIZES),
        help="directory sizes to run (default: 10000 100000)",
    )
    parser.add_argument(
        "--groups",
        type=int,
        nargs="+",
        help="groups per size (default: users / 20)",
    )
    parser.add_argument("--members", type=int, default=20, help="members per group")
    parser.add_argument("--page-size", type=int, default=100)
    parser.add_argument(
        "--faults",
        type=float,
        default=0.2,
        help="share of requests answered 429 in the extra run on the largest "
        "size (0 skips it)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="hold each list answer back this long, as a remote service "
        "would (default 0: answer at once)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="best of N runs")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="do not pin the server and the clients to CPUs",
    )
    parser.add_argument(
        "--no-parts",
        dest="parts",
        action="store_false",
        help="skip timing the sync's fetch path and c1z writer on their own",
    )
    parser.add_argument("--profile", help="directory for cProfile stats of the sync")
    parser.add_argument("--json", action="store_true", help="also print JSON rows")
    args = parser.parse_args(argv)

    groups = args.groups or [max(1, users // 20) for users in args.users]
    if len(groups) != len(args.users):
        parser.error("give one --groups value per --users value")
    args.sizes = list(zip(args.users, groups, strict=True))
    args.cpus = sorted(os.sched_getaffinity(0)) if _can_pin() else []
    args.pin = args.pin and bool(args.cpus)
    return args


def _can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) >= 2


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)

    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as scratch:
        for users, groups in args.sizes:
            rows += measure(users, groups, args, Path(scratch))

    print_table(rows)
    if args.json:
        print(json.dumps({"rows": [asdict(row) for row in rows]}))


if __name__ == "__main__":
    main()
