"""``baton-scim demo``: a generated directory, served, synced, in one command."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from collections import defaultdict
from pathlib import Path

import pytest
from baton_scim import demo
from baton_scim.c1z import C1zReader
from baton_scim.c1z.container import read_c1z
from pydantic import SecretStr

from tests.support.cli import run_cli
from tests.support.snapshot import snapshot

USERS, GROUPS, SEED = 60, 16, 7
TOKEN = "demo-token-that-must-never-show-0123456789"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    """One demo run with a known token, shared by the module's tests."""
    out = tmp_path_factory.mktemp("demo") / "demo.c1z"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(demo, "new_token", lambda: SecretStr(TOKEN))
        result = run_cli(
            "demo",
            "--users",
            str(USERS),
            "--groups",
            str(GROUPS),
            "--seed",
            str(SEED),
            "-f",
            str(out),
            env={"COLUMNS": "200"},
        )
    assert result.exit_code == 0, result.output
    return result, out, demo.plan_directory(USERS, GROUPS, SEED)


def test_demo_file_holds_as_many_objects_as_the_demo_generated(demo_run):
    _, out, plan = demo_run
    counts = plan.counts

    with C1zReader(out) as reader:
        stats = reader.stats()

    assert stats["user"] == counts.users == USERS
    assert stats["group"] == counts.groups == GROUPS
    assert stats["role"] == counts.roles
    assert stats["entitlements"] == counts.groups + counts.roles
    assert stats["grants"] == counts.memberships + counts.role_assignments


def test_demo_memberships_and_roles_are_the_planned_ones(demo_run):
    _, out, plan = demo_run
    snap = snapshot(out)
    emails = {
        r[1]: dict(dict(r[3])["emails"][0])["address"]
        for r in snap["resources"]
        if r[0] == "user"
    }
    names = {r[1]: r[2] for r in snap["resources"] if r[0] in ("group", "role")}
    found = defaultdict(set)
    for grant in snap["grants"]:
        found[names[grant[3]]].add(emails[grant[5]])

    expected = defaultdict(set)
    for group in plan.groups:
        expected[group.display_name] = {
            plan.users[i]["userName"] for i in group.members
        }
    for user in plan.users:
        for role in user.get("roles", []):
            expected[role["display"]].add(user["userName"])
    assert {k: v for k, v in found.items() if v} == {
        k: v for k, v in expected.items() if v
    }


def test_demo_directory_looks_like_a_real_company(demo_run):
    _, out, plan = demo_run
    snap = snapshot(out)
    users = [r for r in snap["resources"] if r[0] == "user"]
    statuses = [dict(dict(r[3])["status"])["status"] for r in users]
    memberships = defaultdict(int)
    for grant in snap["grants"]:
        if grant[2] == "group":
            memberships[grant[5]] += 1

    assert statuses.count("STATUS_DISABLED") == plan.counts.inactive > 0
    assert any(not r[2].isascii() for r in users), "some names are not ASCII"
    assert any(count >= 2 for count in memberships.values()), "groups overlap"
    assert plan.counts.roles >= 3


def test_demo_says_what_to_run_next_with_a_real_user_id(demo_run):
    result, out, _ = demo_run
    principal = re.search(r"inspect -f \S+ --principal (\w+)", result.stdout)

    assert principal, result.stdout
    with C1zReader(out) as reader:
        assert reader.resource("user", principal.group(1)) is not None
    assert f"synced {USERS} users, {GROUPS} groups" in result.stdout
    assert "--service-provider NAME --token ... check" in result.stdout


def test_demo_never_shows_its_token(demo_run, tmp_path):
    result, out, _ = demo_run
    database = tmp_path / "demo.db"
    read_c1z(out, database)

    assert TOKEN not in result.stdout + result.stderr
    assert TOKEN.encode() not in out.read_bytes()
    assert TOKEN.encode() not in database.read_bytes()


def test_demo_needs_no_provider_plugin(monkeypatch, tmp_path):
    def no_plugins(*args, **kwargs):
        raise AssertionError("the demo must not look for provider plugins")

    monkeypatch.setattr("baton_scim.plugins.load_registry", no_plugins)
    monkeypatch.setattr("baton_scim.runtime.load_registry", no_plugins)
    out = tmp_path / "sync.c1z"

    result = run_cli("demo", "--users", "5", "--groups", "2", "-f", str(out))

    assert result.exit_code == 0, result.output
    with C1zReader(out) as reader:
        assert reader.stats()["user"] == 5


def test_demo_takes_its_file_from_the_main_file_flag(tmp_path):
    out = tmp_path / "main-flag.c1z"

    result = run_cli("-f", str(out), "demo", "--users", "3", "--groups", "1")

    assert result.exit_code == 0, result.output
    assert out.exists()


def test_same_seed_draws_the_same_directory_with_the_same_ids():
    plans = [demo.plan_directory(12, 14, seed=3) for _ in range(2)]
    other = demo.plan_directory(12, 14, seed=4)
    ids = []
    for plan in plans:
        with demo.DemoServer(plan.seed) as server:
            ids.append(demo.fill(server, plan).user_ids)

    assert plans[0] == plans[1]
    assert other.users != plans[0].users
    assert ids[0] == ids[1]


def test_every_planned_team_and_department_is_a_group_once():
    plan = demo.plan_directory(200, 60, seed=5)
    names = [group.display_name for group in plan.groups]

    assert len(names) == len(set(names)) == 60
    assert any(len(group.members) == 0 for group in plan.groups)
    assert all(0 <= member < 200 for group in plan.groups for member in group.members)


@pytest.mark.parametrize(("users", "groups"), [(1, 40), (2, 500), (3, 0)])
def test_tiny_and_odd_sizes_still_draw_a_directory(users, groups):
    plan = demo.plan_directory(users, groups, seed=9)

    assert plan.counts.users == users
    assert plan.counts.groups == groups
    assert all(len(set(g.members)) == len(g.members) for g in plan.groups)


@pytest.mark.parametrize("flag", [["--users", "0"], ["--groups", "-1"]])
def test_demo_refuses_sizes_out_of_range(flag):
    result = run_cli("demo", *flag)

    assert result.exit_code == 2
    assert "Invalid value" in result.output


def test_demo_into_a_missing_directory_is_one_error_line(tmp_path):
    out = tmp_path / "no" / "such" / "dir" / "sync.c1z"

    result = run_cli("demo", "--users", "3", "--groups", "1", "-f", str(out))

    assert result.exit_code != 0
    assert result.stderr.count("error:") == 1, result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()
    assert not Path(out.parent).exists() or not any(Path(out.parent).iterdir())


@pytest.mark.slow
def test_the_core_wheel_ships_the_demo_description(tmp_path):
    # Built from a copy: setuptools leaves build/ behind in the source tree.
    core = tmp_path / "core"
    shutil.copytree(
        Path(__file__).resolve().parents[1] / "core",
        core,
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"),
    )
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q"]
    command += ["--no-build-isolation", "-w", str(tmp_path / "dist"), str(core)]
    subprocess.run(command, check=True, capture_output=True)

    (wheel,) = (tmp_path / "dist").glob("baton_scim-*.whl")
    assert "baton_scim/data/demo.yaml" in zipfile.ZipFile(wheel).namelist()
