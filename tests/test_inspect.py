"""``baton-scim inspect``: what ``baton`` shows for a file, as tables and JSON.

The Go connector's reference file comes with what the ``baton`` CLI printed
for it (tests/data/go-reference/baton-*.txt): inspect must show the same.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import GO_REFERENCE
from tests.support.cli import run_cli

GO_FILE = GO_REFERENCE / "sync.c1z"
WIDE = {"COLUMNS": "200"}
TOP_LEVEL_KEYS = [
    "version",
    "file",
    "sync_id",
    "filters",
    "syncs",
    "stats",
    "resource_types",
    "resources",
    "entitlements",
    "grants",
    "principal",
]


def baton_table(name: str) -> list[dict[str, str]]:
    """Rows of a table the baton CLI printed, keyed by its column titles."""
    lines = (GO_REFERENCE / f"baton-{name}.txt").read_text().splitlines()
    lines = [line for line in lines if line.strip()]
    header = [cell.strip() for cell in lines[0].split("|")]
    return [
        dict(zip(header, (cell.strip() for cell in line.split("|")), strict=True))
        for line in lines[1:]
    ]


def inspect_json(*args: str) -> dict:
    result = run_cli("inspect", "-f", str(GO_FILE), "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_inspect_json_shows_the_resources_baton_shows():
    data = inspect_json()
    ours = {(r["id"], r["display_name"], r["resource_type"]) for r in data["resources"]}
    theirs = {
        (row["ID"], row["Display Name"], row["Resource Type"].lower())
        for row in baton_table("resources")
    }

    assert ours == theirs


def test_inspect_json_shows_the_entitlements_baton_shows():
    data = inspect_json()
    ours = {
        (e["id"], e["display_name"], e["resource_name"], e["slug"])
        for e in data["entitlements"]
    }
    theirs = {
        (row["ID"], row["Display Name"], row["Resource"], row["Permission"])
        for row in baton_table("entitlements")
    }

    assert ours == theirs


def test_inspect_json_names_both_ends_of_every_grant_as_baton_does():
    data = inspect_json()
    ours = {
        (g["id"], g["resource_name"], g["entitlement_name"], g["principal_name"])
        for g in data["grants"]
    }
    theirs = {
        (row["ID"], row["Resource"], row["Entitlement"], row["Principal"])
        for row in baton_table("grants")
    }

    assert ours == theirs


def test_inspect_json_stats_are_batons_stats():
    data = inspect_json()
    theirs = {row["Type"]: int(row["Count"]) for row in baton_table("stats")}

    assert data["stats"] == theirs


def test_inspect_json_has_a_version_fixed_keys_and_lists_sorted_by_id():
    data = inspect_json()

    assert list(data) == TOP_LEVEL_KEYS
    assert data["version"] == 1
    assert data["principal"] is None
    assert data["filters"] == {"resource_type": None, "principal": None}
    for key in ("resource_types", "entitlements", "grants"):
        ids = [item["id"] for item in data[key]]
        assert ids == sorted(ids), key
    keys = [(r["resource_type"], r["id"]) for r in data["resources"]]
    assert keys == sorted(keys)


def test_inspect_json_is_the_same_byte_for_byte_on_every_run():
    first = run_cli("inspect", "-f", str(GO_FILE), "--json")
    second = run_cli("inspect", "-f", str(GO_FILE), "--json")

    assert first.stdout == second.stdout


def test_inspect_json_gives_user_status_email_and_profile():
    data = inspect_json("--resource-type", "user")
    zoe = next(r for r in data["resources"] if r["id"] == "u-zoe")

    assert zoe["display_name"] == "Zoë Ångström"
    assert zoe["trait"] == "user"
    assert zoe["status"] in ("enabled", "disabled")
    assert zoe["email"] and "@" in zoe["email"]
    assert zoe["profile"]["user_id"] == "u-zoe"


def test_inspect_json_lists_the_syncs_of_the_file_and_marks_the_shown_one():
    data = inspect_json()

    assert len(data["syncs"]) == 1
    sync = data["syncs"][0]
    assert sync["id"] == data["sync_id"]
    assert sync["shown"] is True and sync["finished"] is True
    assert sync["started_at"].endswith("Z") and sync["ended_at"].endswith("Z")


def test_principal_filter_answers_what_a_user_can_access():
    data = inspect_json("--principal", "u-zoe")

    assert data["principal"]["display_name"] == "Zoë Ångström"
    assert data["filters"]["principal"] == "u-zoe"
    assert {(g["resource_type"], g["resource_name"]) for g in data["grants"]} == {
        ("group", "Engineering"),
        ("group", "Sales"),
        ("role", "Billing Manager"),
        ("role", "Workspace Admin"),
    }
    assert {g["principal_id"] for g in data["grants"]} == {"u-zoe"}
    assert {r["display_name"] for r in data["resources"]} == {
        "Engineering",
        "Sales",
        "Billing Manager",
        "Workspace Admin",
    }
    assert len(data["entitlements"]) == 4


def test_principal_filter_takes_the_baton_form_of_a_user_id():
    assert (
        inspect_json("--principal", "user:u-zoe")["grants"]
        == inspect_json("--principal", "u-zoe")["grants"]
    )


def test_resource_type_filter_keeps_that_type_and_its_grants():
    data = inspect_json("--resource-type", "role")

    assert {r["resource_type"] for r in data["resources"]} == {"role"}
    assert len(data["resources"]) == 5
    assert {e["resource_type"] for e in data["entitlements"]} == {"role"}
    assert len(data["grants"]) == 6
    assert data["stats"]["user"] == 7, "stats always count the whole sync"


def test_both_filters_together_keep_what_both_keep():
    data = inspect_json("--resource-type", "group", "--principal", "u-zoe")

    assert {g["resource_name"] for g in data["grants"]} == {"Engineering", "Sales"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--principal", "nobody"], "no user 'nobody'"),
        (["--resource-type", "app"], "no resource type 'app'"),
        (["--sync-id", "2xyz"], "no sync '2xyz'"),
    ],
)
def test_unknown_filter_values_are_one_error_line(args, words):
    result = run_cli("inspect", "-f", str(GO_FILE), *args)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and words in result.stderr


def test_inspect_of_a_missing_file_is_one_error_line(tmp_path):
    result = run_cli("inspect", "-f", str(tmp_path / "nothing.c1z"))

    assert result.exit_code == 1
    assert "no such c1z file" in result.stderr
    assert "Traceback" not in result.output


def test_inspect_reads_the_main_file_flag_by_default(tmp_path):
    copy = tmp_path / "copy.c1z"
    shutil.copy(GO_FILE, copy)

    result = run_cli("-f", str(copy), "inspect", "--json")

    assert json.loads(result.stdout)["file"] == str(copy)


def test_inspect_tables_show_syncs_stats_types_resources_and_grants():
    result = run_cli("inspect", "-f", str(GO_FILE), env=WIDE)

    assert result.exit_code == 0, result.output
    for title in (
        "syncs in",
        "stats (6)",
        "resource types (3)",
        "resources (16)",
        "entitlements (9)",
        "grants (14)",
    ):
        assert title in result.stdout
    assert "Zoë Ångström" in result.stdout
    assert "Ops & On-Call" in result.stdout


def test_inspect_tables_cut_long_lists_and_say_how_to_see_all():
    result = run_cli("inspect", "-f", str(GO_FILE), "--limit", "3", env=WIDE)

    assert "3 of 16 shown" in result.stdout
    assert "3 of 14 shown" in result.stdout


def test_inspect_principal_table_says_who_and_what():
    result = run_cli("inspect", "-f", str(GO_FILE), "--principal", "u-zoe", env=WIDE)

    assert result.exit_code == 0, result.output
    assert "Zoë Ångström (user u-zoe" in result.stdout
    assert "access (4)" in result.stdout
    assert "role:billing_manager:member" in result.stdout


def test_inspect_can_show_an_older_sync_of_the_file(tmp_path):
    combined = tmp_path / "two-syncs.c1z"
    shutil.copy(GO_FILE, combined)
    demo = run_cli("demo", "--users", "4", "--groups", "2", "-f", str(combined))
    assert demo.exit_code == 0, demo.output

    latest = json.loads(run_cli("inspect", "-f", str(combined), "--json").stdout)
    older_id = next(s["id"] for s in latest["syncs"] if not s["shown"])
    older = json.loads(
        run_cli("inspect", "-f", str(combined), "--json", "--sync-id", older_id).stdout
    )

    assert len(latest["syncs"]) == 2
    assert latest["stats"]["user"] == 4
    assert older["stats"]["user"] == 7
    assert "u-zoe" in {r["id"] for r in older["resources"]}


def test_inspect_does_not_change_the_file(tmp_path):
    copy = tmp_path / "copy.c1z"
    shutil.copy(GO_FILE, copy)
    before = copy.read_bytes()

    run_cli("inspect", "-f", str(copy))
    run_cli("inspect", "-f", str(copy), "--json", "--principal", "u-zoe")

    assert copy.read_bytes() == before
    assert sorted(p.name for p in Path(tmp_path).iterdir()) == ["copy.c1z"]


def test_every_key_of_the_json_is_documented():
    doc = (Path(__file__).parents[1] / "docs" / "inspect-json.md").read_text()
    data = inspect_json("--principal", "u-zoe")
    keys = set(data)
    for key in ("syncs", "resource_types", "resources", "entitlements", "grants"):
        keys.update(data[key][0])
    keys.update(data["filters"])

    undocumented = sorted(key for key in keys if f"`{key}`" not in doc)
    assert undocumented == []
