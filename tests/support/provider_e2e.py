"""A provider end to end through the command line: one sync, then changes.

``ProviderCli`` holds the flags that point one provider at a test server
and a c1z file. ``sync`` writes that file; ``grant`` and ``revoke`` carry
out one change with Baton's one-shot flags (``-p --grant-entitlement ...``,
``-p --revoke-grant ...``) and return what the change sent, as ``Sent``
records, and whether the c1z file stayed as it was (provisioning only reads
it). ``Sent`` keeps what a test compares exactly: method, path, query
string, the headers that matter to a SCIM service, and the JSON body.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from .cli import Result, run_cli
from .fake_scim import RecordedRequest

#: The headers compared exactly; the others (Host, User-Agent...) are not ours.
WATCHED_HEADERS = ("authorization", "accept", "content-type", "if-match")
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Server(Protocol):
    """What ``ProviderCli`` needs of a test server (FakeScim has it)."""

    requests: list[RecordedRequest]

    @property
    def url(self) -> str:
        """The base URL of the SCIM endpoints."""

    def reset_requests(self) -> None:
        """Forget the recorded requests."""


@dataclass(frozen=True)
class Sent:
    """One request as a SCIM service received it, in comparable form."""

    method: str
    path: str
    query: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = None


def on_the_wire(request: RecordedRequest) -> Sent:
    """The comparable form of a recorded request."""
    headers = {
        name: value
        for name in WATCHED_HEADERS
        if (value := request.header(name)) is not None
    }
    return Sent(
        request.method, request.path, request.query_string, headers, request.json
    )


@dataclass(frozen=True)
class Provisioned:
    """One provisioning run: its result, what it sent, and the c1z afterwards."""

    result: Result
    sent: list[Sent]
    c1z_unchanged: bool

    @property
    def line(self) -> str:
        """The run's stdout; a successful change prints exactly one line."""
        return self.result.stdout


@dataclass
class ProviderCli:
    """The command line of one provider against test servers, with one c1z file."""

    provider: str
    credentials: tuple[str, ...]
    file: Path
    extra: tuple[str, ...] = ()

    def run(self, server: Server, *args: str) -> Result:
        """Run baton-scim against ``server``; warnings and errors only on stderr."""
        return run_cli(
            f"--service-provider={self.provider}",
            *self.credentials,
            f"--api-endpoint={server.url}",
            f"--file={self.file}",
            "--log-level=warn",
            *self.extra,
            *args,
        )

    def sync(self, server: Server) -> Result:
        """A full sync into the c1z file."""
        return self.run(server)

    def grant(self, server: Server, entitlement: str, user: str) -> Provisioned:
        """Grant an entitlement to a user with Baton's one-shot flags."""
        return self.provision(
            server,
            "--grant-entitlement", entitlement,
            "--grant-principal", user,
            "--grant-principal-type", "user",
        )  # fmt: skip

    def revoke(self, server: Server, grant_id: str) -> Provisioned:
        """Revoke a grant with Baton's one-shot flag."""
        return self.provision(server, "--revoke-grant", grant_id)

    def provision(self, server: Server, *args: str) -> Provisioned:
        """Run one change with -p; keep only the requests it sent."""
        before = self.file.read_bytes()
        server.reset_requests()

        result = self.run(server, "-p", *args)

        sent = [on_the_wire(request) for request in server.requests]
        return Provisioned(result, sent, self.file.read_bytes() == before)


def listed(resources: Iterable[dict[str, Any]], attribute: str) -> dict[str, list[Any]]:
    """Each resource's id and the ``value`` of every item of one list attribute."""
    return {
        resource["id"]: [item.get("value") for item in resource.get(attribute) or []]
        for resource in resources
    }


def patch_op(*operations: dict[str, Any]) -> dict[str, Any]:
    """An RFC 7644 §3.5.2 PatchOp body holding these operations."""
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def assert_changed(run: Provisioned, line: str) -> None:
    """A change that went through: exit 0, one stdout line, a quiet stderr."""
    assert run.result.exit_code == 0, run.result.output
    assert run.line == line + "\n"
    assert run.result.stderr == ""
    assert run.c1z_unchanged


def assert_failed(run: Provisioned, exit_code: int, *words: str) -> str:
    """A change refused or failed: one error line naming ``words``; c1z only read."""
    assert run.result.exit_code == exit_code, run.result.output
    assert run.line == ""
    [line] = run.result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    for word in words:
        assert word in line
    assert run.c1z_unchanged
    return line
