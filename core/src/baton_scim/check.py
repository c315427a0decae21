"""``check``: will a sync work? Ask the service, write nothing.

Three kinds of request, one each: the service's self-description
(``/ServiceProviderConfig``, RFC 7644 §4 and RFC 7643 §5), one page of
users and one page of groups, read through the provider's own paging and
mapping hooks. The answers become findings (ok, warning, error) and the
capabilities the service announced; the provisioning section of the
description is held against those capabilities. Nothing here prints.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .config import PatchOperation, ProviderConfig
from .errors import (
    AuthenticationFailed,
    BatonScimError,
    ProtocolError,
    ServiceError,
    TransportError,
)
from .http import ScimClient
from .provider import ListPage, ProviderContext
from .settings import Settings

logger = logging.getLogger(__name__)

Level = Literal["ok", "warning", "error"]
# SCIM 1.1 (Slack's v1 API among others) names the endpoint in the plural.
SPC_PATHS = ("ServiceProviderConfig", "ServiceProviderConfigs")


@dataclass
class Finding:
    """One conclusion of the check, with what to do about it."""

    level: Level
    topic: str
    message: str
    hint: str | None = None


@dataclass
class Capabilities:
    """What the service announced in its ServiceProviderConfig."""

    source: str
    patch: bool | None = None
    bulk: bool | None = None
    bulk_max_operations: int | None = None
    filter: bool | None = None
    filter_max_results: int | None = None
    etag: bool | None = None
    sort: bool | None = None
    change_password: bool | None = None
    # RFC 9865 §4: index, cursor, defaultPaginationMethod, defaultPageSize,
    # maxPageSize, cursorTimeout; None when the service says nothing.
    pagination: dict[str, Any] | None = None
    authentication_schemes: list[str] = field(default_factory=list)

    @property
    def page_cap(self) -> int | None:
        """The largest page the service announced, if it announced one."""
        caps = [self.filter_max_results, (self.pagination or {}).get("maxPageSize")]
        known = [cap for cap in caps if isinstance(cap, int) and cap > 0]
        return min(known) if known else None


@dataclass
class Probe:
    """One page of a listing: what came back and what the mapping made of it."""

    endpoint: str
    total: int | None
    received: int
    cursor_paging: bool
    # RFC 7643 §3.1: meta.version, what a guarded rewrite sends in If-Match.
    versioned: bool = False
    first_id: str | None = None
    first_name: str | None = None


@dataclass
class CheckReport:
    """Everything the check found; ``ok`` tells whether a sync would work."""

    provider: str
    endpoint: str
    capabilities: Capabilities | None = None
    users: Probe | None = None
    groups: Probe | None = None
    findings: list[Finding] = field(default_factory=list)
    requests: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def errors(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.level == "error"]

    def add(
        self, level: Level, topic: str, message: str, hint: str | None = None
    ) -> None:
        self.findings.append(Finding(level, topic, message, hint))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready picture of the report."""
        data = asdict(self)
        data["ok"] = self.ok
        return data


async def check_service(context: ProviderContext, settings: Settings) -> CheckReport:
    """Ask the service what a sync needs; never writes anything anywhere."""
    config = context.config
    report = CheckReport(context.name, config.api_endpoint)
    async with _client(context, settings) as client:
        try:
            report.capabilities = await _capabilities(client, report)
            report.users = await _probe(client, context, "Users", report)
            report.add("ok", "credentials", "the service accepted the credentials")
            report.groups = await _probe(client, context, "Groups", report)
        except _Stop:
            pass
        finally:
            report.requests = client.stats.requests
    if report.ok:
        # Only a service that answered is worth holding the description against.
        _check_paging(config, report)
        _check_provisioning(config, settings.provisioning, report)
    return report


class _Stop(Exception):
    """An error finding that makes further requests pointless."""


def _client(context: ProviderContext, settings: Settings) -> ScimClient:
    return ScimClient(
        context,
        context.options["auth"],
        timeout=settings.http_timeout_seconds,
        transport=settings.transport,
        verify=settings.verify,
    )


# -- ServiceProviderConfig ---------------------------------------------------------


async def _capabilities(client: ScimClient, report: CheckReport) -> Capabilities | None:
    """Read the service's self-description; its absence is only a warning."""
    for path in SPC_PATHS:
        try:
            body = await client.get_json(path)
        except TransportError as error:
            report.add("error", "endpoint", str(error))
            raise _Stop from None
        except ServiceError as error:
            if error.status == 404:
                continue
            report.add("warning", "ServiceProviderConfig", _refused(path, error))
            return None
        except ProtocolError as error:
            report.add("warning", "ServiceProviderConfig", str(error))
            return None
        return _read_capabilities(path, body, report)

    report.add(
        "warning",
        "ServiceProviderConfig",
        "the service has no /ServiceProviderConfig (RFC 7644 §4), so its "
        "PATCH, filter, ETag and paging support are unknown",
        hint="the sync does not need it; provisioning fit cannot be checked",
    )
    return None


def _refused(path: str, error: ServiceError) -> str:
    return f"GET /{path} answered {error.status}: capabilities unknown ({error})"


def _read_capabilities(
    path: str, body: Any, report: CheckReport
) -> Capabilities | None:
    if not isinstance(body, dict):
        report.add("warning", "ServiceProviderConfig", f"/{path} is not a JSON object")
        return None

    capabilities = Capabilities(
        source=f"/{path}",
        patch=_supported(body, "patch"),
        bulk=_supported(body, "bulk"),
        bulk_max_operations=_number(body, "bulk", "maxOperations"),
        filter=_supported(body, "filter"),
        filter_max_results=_number(body, "filter", "maxResults"),
        etag=_supported(body, "etag"),
        sort=_supported(body, "sort"),
        change_password=_supported(body, "changePassword"),
        pagination=_pagination(body),
        authentication_schemes=_schemes(body),
    )
    report.add("ok", "ServiceProviderConfig", f"read /{path}")
    return capabilities


def _section(body: dict[str, Any], name: str) -> dict[str, Any]:
    # Attribute names are case-insensitive in SCIM (RFC 7643 §2.1).
    for key, value in body.items():
        if key.lower() == name.lower() and isinstance(value, dict):
            return value
    return {}


def _supported(body: dict[str, Any], name: str) -> bool | None:
    value = _section(body, name).get("supported")
    return value if isinstance(value, bool) else None


def _number(body: dict[str, Any], name: str, key: str) -> int | None:
    value = _section(body, name).get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pagination(body: dict[str, Any]) -> dict[str, Any] | None:
    section = _section(body, "pagination")
    return dict(section) if section else None


def _schemes(body: dict[str, Any]) -> list[str]:
    schemes: Any = next(
        (v for k, v in body.items() if k.lower() == "authenticationschemes"), []
    )
    if not isinstance(schemes, list):
        return []
    return [
        str(scheme.get("type") or scheme.get("name"))
        for scheme in schemes
        if isinstance(scheme, dict) and (scheme.get("type") or scheme.get("name"))
    ]


# -- One page of users and groups ------------------------------------------------


async def _probe(
    client: ScimClient, context: ProviderContext, endpoint: str, report: CheckReport
) -> Probe:
    """Fetch one small page through the provider's hooks and map its first item."""
    try:
        page = await _first_page(client, context, endpoint)
    except BatonScimError as error:
        report.add("error", _topic(error), str(error))
        raise _Stop from None

    probe = Probe(
        endpoint=endpoint,
        total=page.total_results,
        received=len(page.resources),
        cursor_paging=page.next_cursor is not None,
        versioned=bool(page.resources) and _has_version(page.resources[0]),
    )
    _describe_page(endpoint, page, report)
    if page.resources:
        _map_first(context, endpoint, page.resources[0], probe, report)
    return probe


async def _first_page(
    client: ScimClient, context: ProviderContext, endpoint: str
) -> ListPage:
    hooks = context.hook
    cursor = "" if context.config.pagination.method == "cursor" else None
    params = hooks.baton_scim_page_params(
        provider=context, endpoint=endpoint, start_index=1, count=1, cursor=cursor
    )
    body = await client.get_json(endpoint, params=params)
    page: ListPage = hooks.baton_scim_read_page(
        provider=context, endpoint=endpoint, body=body
    )
    return page


def _has_version(resource: dict[str, Any]) -> bool:
    meta = resource.get("meta")
    return isinstance(meta, dict) and bool(meta.get("version"))


def _topic(error: BatonScimError) -> str:
    if isinstance(error, AuthenticationFailed):
        return "credentials"
    return "endpoint"


def _describe_page(endpoint: str, page: ListPage, report: CheckReport) -> None:
    noun = endpoint.lower()
    if page.total_results is None:
        report.add(
            "warning",
            noun,
            f"GET /{endpoint}: the answer has no totalResults (RFC 7644 §3.4.2 "
            "requires it)",
            hint="the sync will page until an empty page",
        )
        return
    report.add("ok", noun, f"GET /{endpoint}: {page.total_results} {noun} announced")


def _map_first(
    context: ProviderContext,
    endpoint: str,
    resource: dict[str, Any],
    probe: Probe,
    report: CheckReport,
) -> None:
    """Map the first listed item as the sync would; no ID means no resources."""
    hooks = context.hook
    if endpoint == "Users":
        user = hooks.baton_scim_map_user(provider=context, resource=resource)
        probe.first_id = user.id if user else None
        probe.first_name = (user.email or user.user_name) if user else None
        key = "user.id"
    else:
        group = hooks.baton_scim_map_group(provider=context, resource=resource)
        probe.first_id = group.id if group else None
        probe.first_name = group.display_name if group else None
        key = "group.id"

    if probe.first_id is None:
        report.add(
            "error",
            endpoint.lower(),
            f"{key} finds no ID in the first of the {endpoint.lower()} listed, "
            "so the sync would skip them all",
            hint=f"fix {key} in the provider description",
        )


# -- How the description fits what the service announced -----------------------------


def _check_paging(config: ProviderConfig, report: CheckReport) -> None:
    capabilities = report.capabilities
    if capabilities is None:
        return
    pagination = config.pagination
    cap = capabilities.page_cap
    if cap is not None and pagination.page_size > cap:
        report.add(
            "warning",
            "paging",
            f"pagination.pageSize is {pagination.page_size} but the service "
            f"returns at most {cap} per page",
            hint=f"set pagination.pageSize: {cap} to save a request per page",
        )
    announced = capabilities.pagination or {}
    if announced.get("index") is False and pagination.method == "index":
        report.add(
            "error",
            "paging",
            "the service announces cursor paging only (RFC 9865) but "
            "pagination.method is index",
            hint="set pagination.method: cursor (or auto)",
        )
    if announced.get("cursor") is False and pagination.method == "cursor":
        report.add(
            "warning",
            "paging",
            "pagination.method is cursor but the service announces no cursor "
            "paging; the sync falls back to startIndex",
            hint="set pagination.method: index (or auto)",
        )


def _check_provisioning(
    config: ProviderConfig, enabled: bool, report: CheckReport
) -> None:
    """Hold the provisioning section against what the service showed.

    A misfit fails the check only with -p: without it, the sync alone runs.
    """
    level: Level = "error" if enabled else "warning"
    section = config.provisioning
    if section is None:
        if enabled:
            report.add(
                "error",
                "provisioning",
                "-p/--provisioning is set but the provider description has no "
                "provisioning section",
                hint="add provisioning.addUserToGroup and the other actions",
            )
        return

    for name, operation in section:
        if isinstance(operation, PatchOperation):
            _check_operation(name, operation, level, report)


def _check_operation(
    name: str, operation: PatchOperation, level: Level, report: CheckReport
) -> None:
    key = f"provisioning.{_camel(name)}"
    grant = name.startswith("add")
    allowed = ("add", "replace") if grant else ("remove", "replace")
    op = operation.op.lower()
    if op not in allowed:
        report.add(
            level,
            "provisioning",
            f"{key}.op: {operation.op!r} cannot {'add' if grant else 'remove'} a value",
            hint=f"use op: {' or '.join(allowed)}",
        )
        return
    capabilities = report.capabilities
    if operation.method == "PATCH" and capabilities and capabilities.patch is False:
        report.add(
            level,
            "provisioning",
            f"{key} sends PATCH but the service announces patch.supported: false",
            hint=f"set {key}.method: PUT if the service documents it",
        )
        return
    if op == "replace" or operation.method == "PUT":
        _check_rewrite(key, name, operation, level, report)
        return
    report.add("ok", "provisioning", f"{key}: {operation.method} op {op}")


def _check_rewrite(
    key: str, name: str, operation: PatchOperation, level: Level, report: CheckReport
) -> None:
    """A request that writes the whole list back needs a version to guard it.

    Provisioning sends it with If-Match (RFC 7644 §3.14) on the ETag or
    meta.version it read, and refuses it when the service gives neither.
    """
    shape = f"{key}: {operation.method} op {operation.op.lower()} writes the list back"
    if _versions_available(name, report):
        report.add("ok", "provisioning", f"{shape}, guarded by If-Match")
        return
    if operation.accept_unversioned_replace:
        report.add(
            "warning",
            "provisioning",
            f"{shape} without a version; a change someone makes meanwhile can be "
            "lost (acceptUnversionedReplace is set)",
        )
        return
    report.add(
        level,
        "provisioning",
        f"{shape}, and the service shows no version to guard it (no ETag "
        "support announced, no meta.version listed), so the change would be "
        "refused",
        hint=f"set {key}.op to add or remove, or acceptUnversionedReplace: true "
        "to accept the risk",
    )


def _versions_available(name: str, report: CheckReport) -> bool:
    if report.capabilities is not None and report.capabilities.etag:
        return True
    # Memberships are written on groups, roles on users.
    probe = report.groups if name.endswith("group") else report.users
    return probe is not None and probe.versioned


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)
