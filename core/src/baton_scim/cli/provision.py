"""Grant and revoke from the command line.

Baton's one-shot flags (``--grant-entitlement ID --grant-principal ID
--grant-principal-type user``, ``--revoke-grant ID``) and two friendlier
subcommands, ``grant`` and ``revoke``, that build the same IDs from
``--group``/``--role`` and ``--user``. Either way: one line on stdout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import typer

from ..errors import ProvisioningRefused
from ..provisioning import (
    AccessRef,
    Kind,
    carry_out,
    check_available,
    find_grant,
    find_revoke,
)
from ..settings import Settings
from . import output
from .app import State, app, failures, run_async

# A change reads its target first: run again, one already made says so.
INTERRUPTED = (
    "run it again; it reads the target first, so a change the service already "
    "made is reported as already granted or revoked"
)


@dataclass(frozen=True)
class OneShot:
    """One grant or revoke, named by Baton IDs."""

    kind: Kind
    entitlement_id: str = ""
    principal_id: str = ""
    principal_type: str | None = None
    grant_id: str = ""

    @property
    def named_id(self) -> str:
        """The entitlement (grant) or grant (revoke) ID the change names."""
        return self.grant_id if self.kind == "revoke" else self.entitlement_id

    def find(self, settings: Settings) -> AccessRef:
        """Look the IDs up in the latest sync of the -f file."""
        if self.kind == "revoke":
            return find_revoke(settings.file, self.grant_id)
        return find_grant(
            settings.file, self.entitlement_id, self.principal_id, self.principal_type
        )


def provision(
    state: State,
    *,
    grant_entitlement: str | None,
    grant_principal: str | None,
    grant_principal_type: str | None,
    revoke_grant: str | None,
) -> None:
    """Carry out one grant or revoke named by Baton IDs from the -f file."""
    shot = one_shot(
        grant_entitlement, grant_principal, grant_principal_type, revoke_grant
    )
    carry_out_one(state, shot)


def one_shot(
    grant_entitlement: str | None,
    grant_principal: str | None,
    grant_principal_type: str | None,
    revoke_grant: str | None,
) -> OneShot:
    """Check that the one-shot flags go together as Baton pairs them."""
    if revoke_grant and (grant_entitlement or grant_principal):
        raise ProvisioningRefused(
            "--revoke-grant cannot be combined with --grant-entitlement "
            "or --grant-principal",
            hint="grant and revoke in two separate runs",
        )
    if revoke_grant:
        return OneShot("revoke", grant_id=revoke_grant)
    if not grant_entitlement or not grant_principal:
        missing = "--grant-principal" if grant_entitlement else "--grant-entitlement"
        raise ProvisioningRefused(
            f"{missing} is missing: --grant-entitlement and --grant-principal "
            "go together",
            hint="pass both, with --grant-principal-type user",
        )
    return OneShot(
        "grant",
        entitlement_id=grant_entitlement,
        principal_id=grant_principal,
        principal_type=grant_principal_type,
    )


def carry_out_one(state: State, shot: OneShot) -> None:
    """Refuse without -p, look the IDs up, change the service, say what changed."""
    settings = state.settings
    if not settings.provisioning:
        raise ProvisioningRefused(
            f"{shot.kind} refused: provisioning is not enabled",
            hint="pass -p/--provisioning, or set BATON_PROVISIONING=true, "
            "to change access in the service",
        )

    from ..runtime import prepare

    context = prepare(settings)
    check_available(context, settings, shot.kind, shot.named_id)
    ref = shot.find(settings)
    outcome = run_async(
        lambda: carry_out(context, settings, shot.kind, ref),
        timeout=settings.run_timeout_seconds,
        interrupted_hint=INTERRUPTED,
    )
    output.stdout.print(outcome.line, markup=False, highlight=False)


GroupOption = Annotated[
    str | None, typer.Option("--group", help="Group ID, as in the -f file.")
]
RoleOption = Annotated[
    str | None, typer.Option("--role", help="Role ID, as in the -f file.")
]
UserOption = Annotated[
    str | None, typer.Option("--user", help="User ID, as in the -f file.")
]


@app.command("grant")
def grant_command(
    ctx: typer.Context,
    group: GroupOption = None,
    role: RoleOption = None,
    user: UserOption = None,
) -> None:
    """Add a user to a group or give a user a role (needs -p before 'grant')."""
    state: State = ctx.obj
    with failures(state):
        entitlement, user_id = _named(group, role, user)
        shot = OneShot("grant", entitlement, user_id, "user")
        carry_out_one(state, shot)


@app.command("revoke")
def revoke_command(
    ctx: typer.Context,
    group: GroupOption = None,
    role: RoleOption = None,
    user: UserOption = None,
) -> None:
    """Remove a user from a group or take a role away (needs -p before 'revoke')."""
    state: State = ctx.obj
    with failures(state):
        entitlement, user_id = _named(group, role, user)
        carry_out_one(
            state, OneShot("revoke", grant_id=f"{entitlement}:user:{user_id}")
        )


def _named(group: str | None, role: str | None, user: str | None) -> tuple[str, str]:
    """The entitlement ID and user ID that --group/--role and --user name."""
    if bool(group) == bool(role):
        raise ProvisioningRefused(
            "name exactly one of --group and --role",
            hint="e.g. grant --group <group id> --user <user id>",
        )
    if not user:
        raise ProvisioningRefused(
            "--user is missing", hint="add --user <user id> (IDs as in the -f file)"
        )
    entitlement = f"group:{group}:member" if group else f"role:{role}:member"
    return entitlement, user
