"""The command line of a sync: flags, variables, logs, progress, summary."""

from __future__ import annotations

import io
import json

from baton_scim.cli.output import SyncProgress, print_summary
from baton_scim.paging import ListingState
from baton_scim.sync import SyncSummary
from rich.console import Console

from tests.support.cli import run_cli
from tests.support.fake_scim import CannedFault, FakeScim, Response

TOKEN = "ref-token"

GUIDE_FLAGS = {
    "--service-provider": "BATON_SERVICE_PROVIDER",
    "--scim-config": "BATON_SCIM_CONFIG",
    "--token": "BATON_TOKEN",
    "--api-key": "BATON_API_KEY",
    "--username": "BATON_USERNAME",
    "--password": "BATON_PASSWORD",
    "--scim-client-id": "BATON_SCIM_CLIENT_ID",
    "--scim-client-secret": "BATON_SCIM_CLIENT_SECRET",
    "--account-id": "BATON_ACCOUNT_ID",
    "--provisioning": "BATON_PROVISIONING",
    "--file": "BATON_FILE",
    "--log-level": "BATON_LOG_LEVEL",
    "--log-format": "BATON_LOG_FORMAT",
}


def test_help_shows_every_guide_flag_with_its_variable():
    result = run_cli("--help")
    text = " ".join(result.stdout.split())

    assert result.exit_code == 0
    for flag, variable in GUIDE_FLAGS.items():
        assert flag in text and variable in text, flag
    assert "-p, --provisioning" in text and "-f, --file" in text
    assert "sync.c1z" in text


def test_environment_variables_drive_a_sync(
    reference_directory, reference_config, tmp_path
):
    out = tmp_path / "env.c1z"
    with FakeScim(
        reference_directory["Users"], reference_directory["Groups"], token=TOKEN
    ) as server:
        env = {
            "BATON_SCIM_CONFIG": str(reference_config(server.url)),
            "BATON_API_KEY": TOKEN,
            "BATON_FILE": str(out),
            "BATON_LOG_FORMAT": "json",
        }
        result = run_cli(env=env)

    assert result.exit_code == 0, result.output
    assert out.exists()
    assert result.stdout == ""  # Baton connectors print nothing on a sync


def _json_log_of_sync(directory, config, tmp_path, *extra: str, faults=()):
    with FakeScim(
        directory["Users"], directory["Groups"], token=TOKEN, faults=faults
    ) as server:
        result = run_cli(
            "--scim-config",
            str(config(server.url)),
            "--api-key",
            TOKEN,
            "-f",
            str(tmp_path / "s.c1z"),
            "--log-format",
            "json",
            *extra,
        )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stderr.splitlines() if line.strip()]


def test_json_logs_are_one_object_per_line(
    reference_directory, reference_config, tmp_path
):
    entries = _json_log_of_sync(reference_directory, reference_config, tmp_path)

    # At the default level a sync says what it did, not every answer.
    assert [e for e in entries if e["msg"].startswith("GET ")] == []
    assert any("synced 7 users, 4 groups, 5 roles" in e["msg"] for e in entries)


def test_every_answer_is_logged_at_debug_and_error_answers_at_info(
    reference_directory, reference_config, tmp_path
):
    # One 503 on the first user page (a service shedding load), then retried.
    fault = CannedFault(
        lambda request: Response.error_reply(503, "busy"),
        path_contains="/Users",
        times=1,
    )
    entries = _json_log_of_sync(
        reference_directory, reference_config, tmp_path, faults=[fault]
    )
    answers = [e for e in entries if e["msg"].startswith("GET ")]
    assert [(e["level"], e["msg"].split()[2]) for e in answers] == [("info", "503")]

    entries = _json_log_of_sync(
        reference_directory, reference_config, tmp_path, "--log-level", "debug"
    )
    answers = [e for e in entries if e["msg"].startswith("GET ")]
    assert answers and all(e["level"] == "debug" for e in answers)
    assert {e["msg"].split()[2] for e in answers} == {"200"}


def test_progress_shows_items_and_pages_against_totals():
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=100)
    progress = SyncProgress(console)

    with progress.running():
        state = ListingState("Users", total=250, received=100, unique=100, pages=1)
        progress(state)
        state.received = state.unique = 200
        state.pages = 2
        progress(state)

    text = buffer.getvalue()
    assert "Users" in text and "200/250" in text and "2/3 pages" in text


def test_summary_counts_requests_and_seconds():
    buffer = io.StringIO()
    summary = SyncSummary(
        users=7,
        groups=4,
        roles=5,
        memberships=8,
        role_assignments=6,
        requests=9,
        retries=2,
        seconds=1.25,
    )

    print_summary(summary, Console(file=buffer, width=200))

    line = buffer.getvalue()
    assert "7 users, 4 groups, 5 roles, 8 memberships, 6 role assignments" in line
    assert "1.2s" in line and "9 requests" in line and "2 retries" in line
