"""The SQLite schema of a version-1 c1z file and its timestamp text format.

Names, declared types and indexes follow what `baton` (baton-sdk v0.7.27)
creates on open (c1z-format.md §2), so that the reader finds everything in
place and adds nothing to its temporary copy.
"""

import re
import sqlite3
from datetime import UTC, datetime, timedelta

RESOURCE_TYPES = "v1_resource_types"
RESOURCES = "v1_resources"
ENTITLEMENTS = "v1_entitlements"
GRANTS = "v1_grants"
SYNC_RUNS = "v1_sync_runs"
ASSETS = "v1_assets"
CONNECTOR_SESSIONS = "v1_connector_sessions"

# Every table whose rows belong to one sync through their `sync_id`.
DATA_TABLES = (
    RESOURCE_TYPES,
    RESOURCES,
    ENTITLEMENTS,
    GRANTS,
    ASSETS,
    CONNECTOR_SESSIONS,
)

# Column lists in the SDK's order; "name type constraints".
COLUMNS: dict[str, tuple[str, ...]] = {
    RESOURCE_TYPES: (
        "id integer primary key",
        "external_id text not null",
        "data blob not null",
        "sync_id text not null",
        "discovered_at datetime not null",
    ),
    RESOURCES: (
        "id integer primary key",
        "resource_type_id text not null",
        "external_id text not null",
        "parent_resource_type_id text",
        "parent_resource_id text",
        "data blob not null",
        "sync_id text not null",
        "discovered_at datetime not null",
    ),
    ENTITLEMENTS: (
        "id integer primary key",
        "resource_type_id text not null",
        "resource_id text not null",
        "external_id text not null",
        "data blob not null",
        "sync_id text not null",
        "discovered_at datetime not null",
    ),
    SYNC_RUNS: (
        "id integer primary key",
        "sync_id text not null",
        "started_at datetime not null",
        "ended_at datetime",
        "sync_token text not null",
        "sync_type text not null default 'full'",
        "parent_sync_id text not null default ''",
        "linked_sync_id text not null default ''",
        "supports_diff integer not null default 0",
    ),
    GRANTS: (
        "id integer primary key",
        "resource_type_id text not null",
        "resource_id text not null",
        "entitlement_id text not null",
        "principal_resource_type_id text not null",
        "principal_resource_id text not null",
        "external_id text not null",
        "expansion blob",
        "needs_expansion integer not null default 0",
        "data blob not null",
        "sync_id text not null",
        "discovered_at datetime not null",
    ),
    ASSETS: (
        "id integer primary key",
        "external_id text not null",
        "content_type text not null",
        "data blob not null",
        "sync_id text not null",
        "discovered_at datetime not null",
    ),
    CONNECTOR_SESSIONS: (
        "id integer primary key",
        "sync_id text not null",
        "key text not null",
        "value blob not null",
    ),
}

# Columns that older SDKs (such as v0.2.61) did not create; added on open.
ADDED_LATER: dict[str, tuple[str, ...]] = {
    SYNC_RUNS: ("sync_type", "parent_sync_id", "linked_sync_id", "supports_diff"),
    GRANTS: ("expansion", "needs_expansion"),
}

# Two resource index names look swapped against their columns; the SDK spells
# them so (§2.3), and baton creates indexes by name, so we keep its names.
INDEXES = (
    (
        "create unique index if not exists idx_resource_types_external_sync_v1"
        " on v1_resource_types (external_id, sync_id)"
    ),
    (
        "create index if not exists idx_resources_resource_type_id_v1"
        " on v1_resources (resource_type_id)"
    ),
    (
        "create index if not exists idx_resources_external_sync_v1"
        " on v1_resources (parent_resource_type_id, parent_resource_id)"
    ),
    (
        "create unique index if not exists idx_resources_parent_resource_id_v1"
        " on v1_resources (external_id, sync_id)"
    ),
    (
        "create index if not exists idx_entitlements_resource_id_v1"
        " on v1_entitlements (resource_type_id, resource_id)"
    ),
    (
        "create unique index if not exists idx_entitlements_external_sync_v1"
        " on v1_entitlements (external_id, sync_id)"
    ),
    (
        "create unique index if not exists idx_sync_runs_sync_id_v1"
        " on v1_sync_runs (sync_id)"
    ),
    (
        "create index if not exists idx_grants_resource_type_id_resource_id_v1"
        " on v1_grants (resource_type_id, resource_id)"
    ),
    (
        "create index if not exists idx_grants_principal_id_v1"
        " on v1_grants (principal_resource_type_id, principal_resource_id)"
    ),
    (
        "create index if not exists idx_grants_entitlement_id_principal_id_v1"
        " on v1_grants"
        " (entitlement_id, principal_resource_type_id, principal_resource_id)"
    ),
    (
        "create unique index if not exists idx_grants_external_sync_v1"
        " on v1_grants (external_id, sync_id)"
    ),
    (
        "create index if not exists idx_grants_sync_expansion_v1"
        " on v1_grants (sync_id) where expansion is not null"
    ),
    (
        "create index if not exists idx_grants_sync_needs_expansion_v1"
        " on v1_grants (sync_id) where needs_expansion = 1"
    ),
    (
        "create unique index if not exists idx_assets_external_sync_v1"
        " on v1_assets (external_id, sync_id)"
    ),
    (
        "create unique index if not exists idx_session_store_sync_key_v1"
        " on v1_connector_sessions (sync_id, key)"
    ),
)


def create_table_sql(table: str) -> str:
    """Return the `create table if not exists` statement of one table."""
    columns = ",\n    ".join(COLUMNS[table])
    return f"create table if not exists {table} (\n    {columns}\n)"


def apply_schema(conn: sqlite3.Connection) -> None:
    """Create missing tables, columns and indexes, as baton does on open.

    Columns come before indexes because the partial grant indexes refer to
    columns that files from older SDKs lack.
    """
    for table in COLUMNS:
        conn.execute(create_table_sql(table))
        _add_missing_columns(conn, table)

    create_indexes(conn)


def create_indexes(conn: sqlite3.Connection) -> None:
    """Create every index that does not exist yet."""
    for statement in INDEXES:
        conn.execute(statement)


def drop_secondary_indexes(conn: sqlite3.Connection) -> None:
    """Drop the non-unique indexes; `create_indexes` builds them again.

    Building an index once over all rows costs far less than updating it on
    every insert of a bulk load. The unique indexes stay: they drop repeated
    objects while rows go in, at about the cost of removing them later. So
    do the partial grant indexes: a sync's rows never match their WHERE, so
    keeping them is free, while building each later scans every grant.
    """
    for statement in INDEXES:
        if statement.startswith("create index") and " where " not in statement:
            name = statement.split(" if not exists ")[1].split()[0]
            conn.execute(f"drop index if exists {name}")


def column_names(conn: sqlite3.Connection, table: str) -> list[str]:
    """Return the column names of `table` in declaration order."""
    return [row[1] for row in conn.execute(f"pragma table_info({table})")]


def _add_missing_columns(conn: sqlite3.Connection, table: str) -> None:
    present = set(column_names(conn, table))
    wanted = set(ADDED_LATER.get(table, ())) - present
    for definition in COLUMNS[table]:
        if definition.split()[0] in wanted:
            conn.execute(f"alter table {table} add column {definition}")


# --- timestamps (§2.8) -------------------------------------------------------

_TIMESTAMP = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)"
    r"(?:[ T](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,9}))?)?)?"
    r"\s*(Z|[+-]\d\d:?\d\d)?(?: [A-Z]{3,5})?"
)


def format_timestamp(moment: datetime) -> str:
    """Render `moment` in UTC as `YYYY-MM-DD HH:MM:SS[.fraction]`.

    The fraction keeps no trailing zeros and is left out when it is zero,
    the shape the SDK writes; a naive datetime is taken to be UTC.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if not moment.microsecond:
        return text
    return f"{text}.{moment.microsecond:06d}".rstrip("0")


def parse_timestamp(text: str) -> datetime:
    """Read a stored timestamp (any shape the Baton reader accepts) as UTC.

    Digits beyond microseconds are dropped; raises ValueError for text that
    is no timestamp.
    """
    match = _TIMESTAMP.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not a c1z timestamp: {text!r}")

    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    moment = datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        micros,
    )

    return moment.replace(tzinfo=UTC) - _utc_offset(zone)


def _utc_offset(zone: str | None) -> timedelta:
    if not zone or zone == "Z":
        return timedelta(0)
    digits = zone[1:].replace(":", "")
    offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    return -offset if zone[0] == "-" else offset
