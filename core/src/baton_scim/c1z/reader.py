"""Read the syncs and objects of a c1z file, as the `baton` CLI sees them.

The file is decompressed into a private temporary database and queried
there; the c1z itself is only read. Files from older SDKs (5-column
`v1_sync_runs`, grants without expansion columns) are read as they are.
"""

import logging
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from . import schema
from .container import MAGIC, FrameInfo, read_c1z, remove_tree
from .errors import C1zError
from .messages import Entitlement, Grant, Resource, ResourceType

logger = logging.getLogger(__name__)

# How long an unfinished sync stays the default one (§3.3).
RECENT_UNFINISHED = timedelta(days=7)

_Message = TypeVar("_Message", ResourceType, Resource, Entitlement, Grant)

# Defaults for the sync-run columns that older SDKs did not write.
_SYNC_RUN_DEFAULTS = {
    "sync_type": "'full'",
    "parent_sync_id": "''",
    "linked_sync_id": "''",
    "supports_diff": "0",
}


@dataclass(frozen=True)
class SyncRun:
    """One row of `v1_sync_runs`."""

    id: int
    sync_id: str
    started_at: datetime
    ended_at: datetime | None
    sync_token: str
    sync_type: str
    parent_sync_id: str
    linked_sync_id: str
    supports_diff: bool

    @property
    def finished(self) -> bool:
        return self.ended_at is not None


class C1zReader:
    """Open a c1z file for reading; use as a context manager.

    Listings take an optional `sync_id`; without one they show the sync the
    CLI shows: the latest finished full sync, else a recent unfinished one,
    else rows of every sync.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        temp_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._path = Path(path)
        self._temp_dir = temp_dir
        self._workdir: Path | None = None
        self._conn: sqlite3.Connection | None = None
        self._header = b""
        self._frames: list[FrameInfo] = []
        self._tables: set[str] = set()
        self._default_sync: str | None = None

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        """Decompress the file into a temporary database and open it."""
        if not self._path.parent.is_dir():
            raise C1zError(f"{self._path}: there is no folder {self._path.parent}")
        if not self._path.is_file():
            raise C1zError(f"{self._path}: no such c1z file")

        self._workdir = Path(tempfile.mkdtemp(prefix="c1z-read-", dir=self._temp_dir))
        try:
            self._conn = self._load(self._workdir / "sync.db")
            self._default_sync = self._find_default_sync()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Close the database and delete the temporary copy."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

        remove_tree(self._workdir)
        self._workdir = None

    def _load(self, database: Path) -> sqlite3.Connection:
        with self._path.open("rb") as raw:
            self._header = raw.read(len(MAGIC))
        self._frames = read_c1z(self._path, database)

        conn = sqlite3.connect(database)
        try:
            rows = conn.execute("select name from sqlite_master where type = 'table'")
            self._tables = {name for (name,) in rows}
        except sqlite3.DatabaseError as error:
            conn.close()
            raise C1zError(f"{self._path}: unreadable database ({error})") from error

        logger.debug("opened %s as %s", self._path, database)
        return conn

    # --- raw access ---------------------------------------------------------

    @property
    def connection(self) -> sqlite3.Connection:
        """The SQLite connection to the decompressed copy."""
        if self._conn is None:
            raise C1zError(f"{self._path}: the reader is not open")
        return self._conn

    @property
    def header(self) -> bytes:
        """The first five bytes of the file (empty for a zero-byte file)."""
        return self._header

    @property
    def frames(self) -> list[FrameInfo]:
        """The zstd frames of the payload, in file order."""
        return list(self._frames)

    # --- syncs --------------------------------------------------------------

    def syncs(self) -> list[SyncRun]:
        """Every sync run of the file, in row order."""
        if schema.SYNC_RUNS not in self._tables:
            return []

        present = set(schema.column_names(self.connection, schema.SYNC_RUNS))
        columns = ", ".join(
            name if name in present else f"{default} as {name}"
            for name, default in _SYNC_RUN_DEFAULTS.items()
        )
        rows = self.connection.execute(
            "select id, sync_id, started_at, ended_at, sync_token, "
            f"{columns} from v1_sync_runs order by id"
        )
        return [self._sync_run(row) for row in rows]

    def _sync_run(self, row: tuple[Any, ...]) -> SyncRun:
        try:
            started_at = schema.parse_timestamp(row[2])
            ended_at = None if row[3] is None else schema.parse_timestamp(row[3])
        except (TypeError, ValueError) as error:
            raise C1zError(f"{self._path}: sync {row[1]}: {error}") from error

        return SyncRun(
            id=row[0],
            sync_id=row[1],
            started_at=started_at,
            ended_at=ended_at,
            sync_token=row[4],
            sync_type=row[5],
            parent_sync_id=row[6],
            linked_sync_id=row[7],
            supports_diff=bool(row[8]),
        )

    def latest_sync_id(self, full_only: bool = True) -> str | None:
        """The finished sync with the greatest `ended_at`; full syncs by default."""
        if schema.SYNC_RUNS not in self._tables:
            return None

        finished = [run for run in self._ordered_syncs() if run[0] is not None]
        if full_only:
            finished = [run for run in finished if run[2] == "full"]
        return finished[0][1] if finished else None

    def _ordered_syncs(self) -> list[tuple[Any, ...]]:
        """(ended_at, sync_id, sync_type) rows, latest `ended_at` first."""
        kind = "sync_type" if self._has_sync_types() else "'full'"
        rows = self.connection.execute(
            f"select ended_at, sync_id, {kind} from v1_sync_runs"
            " order by ended_at desc, sync_id desc"
        )
        return rows.fetchall()

    def _has_sync_types(self) -> bool:
        return "sync_type" in schema.column_names(self.connection, schema.SYNC_RUNS)

    def default_sync_id(self) -> str | None:
        """The sync the CLI lists without `--sync-id`; None means every sync."""
        return self._default_sync

    def _find_default_sync(self) -> str | None:
        latest = self.latest_sync_id()
        if latest is not None:
            return latest

        since = datetime.now(UTC) - RECENT_UNFINISHED
        unfinished = [run for run in self.syncs() if not run.finished]
        recent = [run for run in unfinished if run.started_at >= since]
        recent.sort(key=lambda run: run.started_at)
        return recent[-1].sync_id if recent else None

    # --- listings -----------------------------------------------------------

    def resource_types(self, sync_id: str | None = None) -> Iterator[ResourceType]:
        """The resource types of a sync, in row order."""
        return self._objects(ResourceType, schema.RESOURCE_TYPES, sync_id, {})

    def resources(
        self, sync_id: str | None = None, resource_type: str | None = None
    ) -> Iterator[Resource]:
        """The resources of a sync, optionally of one resource type."""
        where = {"resource_type_id": resource_type}
        return self._objects(Resource, schema.RESOURCES, sync_id, where)

    def entitlements(
        self,
        sync_id: str | None = None,
        resource: tuple[str, str] | None = None,
    ) -> Iterator[Entitlement]:
        """The entitlements of a sync, optionally of one (type, id) resource."""
        where = _pair_filter("resource_type_id", "resource_id", resource)
        return self._objects(Entitlement, schema.ENTITLEMENTS, sync_id, where)

    def grants(
        self,
        sync_id: str | None = None,
        entitlement_id: str | None = None,
        principal: tuple[str, str] | None = None,
        resource: tuple[str, str] | None = None,
    ) -> Iterator[Grant]:
        """The grants of a sync, filtered on the same columns as `baton grants`."""
        where = {
            "entitlement_id": entitlement_id,
            **_pair_filter(
                "principal_resource_type_id", "principal_resource_id", principal
            ),
            **_pair_filter("resource_type_id", "resource_id", resource),
        }
        return self._objects(Grant, schema.GRANTS, sync_id, where)

    # --- single objects -----------------------------------------------------

    def resource_type(
        self, resource_type_id: str, sync_id: str | None = None
    ) -> ResourceType | None:
        """One resource type by id, or None."""
        where = {"external_id": resource_type_id}
        return _first(
            self._objects(ResourceType, schema.RESOURCE_TYPES, sync_id, where)
        )

    def resource(
        self, resource_type: str, resource_id: str, sync_id: str | None = None
    ) -> Resource | None:
        """One resource by type and id, looked up as the CLI does, or None."""
        where = {
            "external_id": f"{resource_type}:{resource_id}",
            "resource_type_id": resource_type,
        }
        return _first(self._objects(Resource, schema.RESOURCES, sync_id, where))

    def entitlement(
        self, entitlement_id: str, sync_id: str | None = None
    ) -> Entitlement | None:
        """One entitlement by id, or None."""
        where = {"external_id": entitlement_id}
        return _first(self._objects(Entitlement, schema.ENTITLEMENTS, sync_id, where))

    def grant(self, grant_id: str, sync_id: str | None = None) -> Grant | None:
        """One grant by id, or None."""
        where = {"external_id": grant_id}
        return _first(self._objects(Grant, schema.GRANTS, sync_id, where))

    # --- counts -------------------------------------------------------------

    def stats(self, sync_id: str | None = None) -> dict[str, int]:
        """Counts as `baton stats` prints them, keys sorted.

        Without `sync_id` the latest finished sync of any type is counted;
        a file without one raises C1zError, as the CLI fails then.
        """
        sync_id = sync_id or self.latest_sync_id(full_only=False)
        if sync_id is None:
            raise C1zError(f"{self._path}: no finished sync to count")

        counts = {"resource_types": 0, "entitlements": 0, "grants": 0}
        for resource_type in self.resource_types(sync_id):
            counts["resource_types"] += 1
            counts[resource_type.id] = 0
        counts.update(self._resource_counts(sync_id))
        if self._sync_type(sync_id) == "resources_only":
            del counts["entitlements"], counts["grants"]
        else:
            counts["entitlements"] = self._count(schema.ENTITLEMENTS, sync_id)
            counts["grants"] = self._count(schema.GRANTS, sync_id)

        return dict(sorted(counts.items()))

    def _sync_type(self, sync_id: str) -> str:
        runs = [run for run in self.syncs() if run.sync_id == sync_id]
        return runs[0].sync_type if runs else "full"

    def _resource_counts(self, sync_id: str) -> dict[str, int]:
        if schema.RESOURCES not in self._tables:
            return {}

        rows = self.connection.execute(
            "select resource_type_id, count(*) from v1_resources"
            " where sync_id = ? group by resource_type_id",
            (sync_id,),
        )
        return dict(rows.fetchall())

    def _count(self, table: str, sync_id: str) -> int:
        if table not in self._tables:
            return 0

        sql = f"select count(*) from {table} where sync_id = ?"
        (count,) = self.connection.execute(sql, (sync_id,)).fetchone()
        return int(count)

    # --- query helper -------------------------------------------------------

    def _objects(
        self,
        cls: type[_Message],
        table: str,
        sync_id: str | None,
        where: Mapping[str, str | None],
    ) -> Iterator[_Message]:
        if table not in self._tables:
            return iter(())

        conditions = {name: value for name, value in where.items() if value is not None}
        sync_id = sync_id or self.default_sync_id()
        if sync_id is not None:
            conditions["sync_id"] = sync_id

        sql = f"select data from {table}"
        if conditions:
            sql += " where " + " and ".join(f"{name} = ?" for name in conditions)
        rows = self.connection.execute(sql + " order by id", list(conditions.values()))
        return (cls.FromString(data) for (data,) in rows)


def _pair_filter(
    type_column: str, id_column: str, pair: tuple[str, str] | None
) -> dict[str, str | None]:
    if pair is None:
        return {}
    return {type_column: pair[0], id_column: pair[1]}


def _first(objects: Iterator[_Message]) -> _Message | None:
    return next(objects, None)
