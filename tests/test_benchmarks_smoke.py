"""The sync benchmark still runs end to end (tiny sizes; nothing is timed)."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "benchmarks" / "bench_sync.py"


def test_sync_benchmark_runs_clean_and_throttled_at_tiny_sizes(tmp_path):
    command = [
        sys.executable,
        str(SCRIPT),
        *("--users", "200", "300"),
        *("--groups", "10", "20"),
        *("--faults", "0.3"),
        "--json",
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr

    table, *_, last = done.stdout.splitlines()
    result = json.loads(last)
    clean = [row for row in result["rows"] if not row["fault_rate"]]
    throttled = [row for row in result["rows"] if row["fault_rate"]]

    assert "baseline s" in table and "sync RSS MB" in table
    assert [(row["users"], row["groups"]) for row in clean] == [(200, 10), (300, 20)]
    # 300 users and 20 groups at 100 a page: three pages and one, one request each.
    assert clean[1]["pages"] == clean[1]["requests"] == 4
    assert all(row["sync_rss_mb"] > 0 and row["file_mb"] > 0 for row in clean)
    (faulty,) = throttled
    assert faulty["throttled"] > 0 and faulty["retries"] == faulty["throttled"]
    assert faulty["requests"] == clean[1]["requests"] + faulty["throttled"]
    assert faulty["same_rows"] is True
    # The largest size is also taken apart: fetch path and writer alone.
    assert "the sync taken apart, 300 users" in done.stdout
    assert clean[1]["fetch"]["resources"] == 300 + 20
    assert clean[1]["write"]["rows"] > 300 + 20  # resources, entitlements, grants
    assert clean[0]["fetch"] is None and clean[0]["write"] is None
    # And the floor: a bare AsyncClient, one page at a time and four.
    assert set(clean[1]["floor"]) == {"1", "4"}
    assert "the floor, 300 users" in done.stdout
    assert clean[0]["floor"] is None


def test_sync_benchmark_holds_answers_back_when_asked(tmp_path):
    # 5 pages of 100 users and 1 of groups, each answer held back 100 ms:
    # the sequential baseline cannot take less than 0.6 s.
    command = [
        sys.executable,
        str(SCRIPT),
        *("--users", "500", "--groups", "10"),
        *("--faults", "0", "--latency-ms", "100", "--no-parts", "--json"),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr

    (row,) = json.loads(done.stdout.splitlines()[-1])["rows"]
    assert "every list answer held back 100 ms" in done.stdout
    assert row["latency_ms"] == 100 and row["pages"] == 6
    assert row["baseline_s"] >= 0.6
