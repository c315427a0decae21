"""Write one Baton sync into a c1z file, keeping the syncs already in it.

The database is built in a private temporary directory; the output file is
replaced only at the very end, by an atomic rename of a finished, fsynced
c1z. Until then the previous file stays exactly as it was (ARCHITECTURE.md,
invariant 3).
"""

import logging
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from . import leftovers, schema
from .container import fsync_directory, read_c1z, remove_tree, write_c1z
from .errors import C1zError
from .ksuid import new_ksuid
from .messages import Entitlement, Grant, Resource, ResourceType

logger = logging.getLogger(__name__)

KEEP_SYNCS_ENV = "BATON_KEEP_SYNC_COUNT"
SKIP_CLEANUP_ENV = "BATON_SKIP_CLEANUP"
DEFAULT_KEEP_SYNCS = 2
BATCH_ROWS = 1000
# Rows per multi-row INSERT; 100 grant rows bind 900 values, below the
# smallest limit SQLite builds impose (999).
ROWS_PER_STATEMENT = 100

_DATABASE_NAME = "sync.db"
_COMPACT_NAME = "compact.db"
_VACUUM_FREE_SHARE = 0.05
_FALSE_WORDS = {"", "0", "false", "no", "off"}
_PRAGMAS = (
    # The temporary database is thrown away unless finish() succeeds, so
    # there is nothing for a journal or an fsync to protect.
    "pragma journal_mode = off",
    "pragma synchronous = off",
    # A fixed 8 MiB page cache keeps memory flat however large the
    # directory. Large pages (a new file only; Baton reads any page size)
    # keep the B-trees shallow: a 100k-user sync makes a fifth of the page
    # reads and writes it makes with 4 KiB pages, in a third less CPU time.
    "pragma page_size = 32768",
    "pragma cache_size = -8192",
)

_INSERT_RESOURCE_TYPE = (
    "insert or ignore into v1_resource_types"
    " (external_id, data, sync_id, discovered_at) values (?, ?, ?, ?)"
)
_INSERT_RESOURCE = (
    "insert or ignore into v1_resources (resource_type_id, external_id,"
    " parent_resource_type_id, parent_resource_id, data, sync_id, discovered_at)"
    " values (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_ENTITLEMENT = (
    "insert or ignore into v1_entitlements (resource_type_id, resource_id,"
    " external_id, data, sync_id, discovered_at) values (?, ?, ?, ?, ?, ?)"
)
_INSERT_GRANT = (
    "insert or ignore into v1_grants (resource_type_id, resource_id,"
    " entitlement_id, principal_resource_type_id, principal_resource_id,"
    " external_id, expansion, needs_expansion, data, sync_id, discovered_at)"
    " values (?, ?, ?, ?, ?, ?, null, 0, ?, ?, ?)"
)
_INSERT_SYNC_RUN = (
    "insert into v1_sync_runs (sync_id, started_at, ended_at, sync_token,"
    " sync_type, parent_sync_id, linked_sync_id, supports_diff)"
    " values (?, ?, null, '', 'full', '', '', 1)"
)


class _Batch:
    """Rows of one table waiting to be inserted, and their counts.

    Full groups of rows go in through one multi-row INSERT each, which saves
    SQLite a statement step per row; the rest through the one-row INSERT.
    """

    def __init__(self, table: str, sql: str) -> None:
        head, one_row = sql.split(" values ")
        self.table = table
        self.sql = sql
        self.group_sql = f"{head} values " + ", ".join([one_row] * ROWS_PER_STATEMENT)
        self.rows: list[tuple[Any, ...]] = []
        self.inserted = 0
        self.ignored = 0

    def flush(self, conn: sqlite3.Connection) -> None:
        rows, self.rows = self.rows, []
        cut = len(rows) - len(rows) % ROWS_PER_STATEMENT
        groups = [
            tuple(chain.from_iterable(rows[start : start + ROWS_PER_STATEMENT]))
            for start in range(0, cut, ROWS_PER_STATEMENT)
        ]

        changed = conn.executemany(self.group_sql, groups).rowcount if groups else 0
        if cut < len(rows):
            changed += conn.executemany(self.sql, rows[cut:]).rowcount

        self.inserted += changed
        self.ignored += len(rows) - changed


class C1zWriter:
    """Add one full sync to the c1z file at `path`, creating it if needed.

    Use it as a context manager and call `finish()` at the end of the block;
    leaving the block without `finish()`, or by an exception, discards the
    sync and leaves the file untouched.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        keep_syncs: int | None = None,
        temp_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._path = Path(path)
        self._keep_syncs = _keep_syncs_setting(keep_syncs)
        self._skip_cleanup = _flag_setting(SKIP_CLEANUP_ENV)
        self._temp_parent = Path(temp_dir) if temp_dir else self._path.parent
        self._workdir: Path | None = None
        self._claim: leftovers.Claim | None = None
        self._partial_output: Path | None = None
        self._conn: sqlite3.Connection | None = None
        self._sync_id = ""
        self._started_at: datetime | None = None
        self._clock = 0.0
        self._discovered_at = ""
        self._started = False
        self._resource_types = _Batch(schema.RESOURCE_TYPES, _INSERT_RESOURCE_TYPE)
        self._resources = _Batch(schema.RESOURCES, _INSERT_RESOURCE)
        self._entitlements = _Batch(schema.ENTITLEMENTS, _INSERT_ENTITLEMENT)
        self._grants = _Batch(schema.GRANTS, _INSERT_GRANT)
        self._batches = (
            self._resource_types,
            self._resources,
            self._entitlements,
            self._grants,
        )

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None and exc_type is None:
            logger.warning("discarding sync %s: finish() was not called", self._sync_id)
        self.abort()

    @property
    def sync_id(self) -> str:
        """The id of the sync being written (empty before `start()`)."""
        return self._sync_id

    @property
    def started_at(self) -> datetime | None:
        """When `start()` began the sync, in UTC."""
        return self._started_at

    @property
    def path(self) -> Path:
        """The output file."""
        return self._path

    # --- lifecycle ----------------------------------------------------------

    def start(self) -> str:
        """Prepare the temporary database, record a new sync; return its id."""
        if self._started:
            raise C1zError(f"{self._path}: a writer writes one sync; make a new one")

        self._clock = time.monotonic()
        self._started = True
        self._workdir = self._make_workdir()
        try:
            self._conn = self._open_database(self._workdir / _DATABASE_NAME)
            self._begin_sync(self._conn)
        except BaseException:
            self.abort()
            raise

        logger.debug("sync %s started in %s", self._sync_id, self._workdir)
        return self._sync_id

    def finish(self) -> Path:
        """Close the sync, drop old ones, and replace the output file."""
        conn = self._require_open()
        try:
            ended_at = self._close_sync(conn)
            database = self._compact(conn)
            size = self._publish(database)
        except BaseException:
            self.abort()
            raise

        self._log_finish(ended_at, size)
        self._remove_temporaries()
        return self._path

    def _make_workdir(self) -> Path:
        """The private temporary folder, once the output's folder is known to exist.

        A sync starts its writer before its first request, so a mistyped -f
        costs no traffic.
        """
        for folder in dict.fromkeys((self._path.parent, self._temp_parent)):
            if not folder.is_dir():
                raise C1zError(
                    f"{self._path}: there is no folder {folder}",
                    hint="create the folder first, or pass -f a path in an "
                    "existing folder",
                )
            leftovers.sweep(folder, self._path.name)
        try:
            name = tempfile.mkdtemp(
                prefix=f".{self._path.name}.", suffix=".tmp", dir=self._temp_parent
            )
        except OSError as error:
            raise C1zError(
                f"{self._path}: cannot write in {self._temp_parent} ({error.strerror})",
                hint="pass -f a path in a folder you may write to",
            ) from None
        self._claim = leftovers.claim_folder(Path(name))
        return Path(name)

    def abort(self) -> None:
        """Discard the sync and every temporary file; never touches the output."""
        self._remove_temporaries()

    def _remove_temporaries(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._partial_output is not None:
            self._partial_output.unlink(missing_ok=True)
            self._partial_output = None

        remove_tree(self._workdir)
        self._workdir = None
        if self._claim is not None:
            self._claim.release()
            self._claim = None

    # --- rows ---------------------------------------------------------------

    def add_resource_type(self, resource_type: ResourceType) -> None:
        """Store a resource type; its `id` is the row's external id."""
        if not resource_type.id:
            raise C1zError("a resource type needs an id")

        row = (
            resource_type.id,
            resource_type.SerializeToString(deterministic=True),
            self._sync_id,
            self._discovered_at,
        )
        self._add(self._resource_types, row)

    def add_resource(self, resource: Resource) -> None:
        """Store a resource under the external id `<type>:<id>`."""
        rid = resource.id
        parent_type = parent_id = None
        if resource.HasField("parent_resource_id"):
            parent = resource.parent_resource_id
            parent_type, parent_id = parent.resource_type, parent.resource

        data = resource.SerializeToString(deterministic=True)
        self.add_resource_data(
            rid.resource_type, rid.resource, data, parent_type, parent_id
        )

    def add_resource_data(
        self,
        resource_type: str,
        resource_id: str,
        data: bytes,
        parent_type: str | None = None,
        parent_id: str | None = None,
    ) -> None:
        """Store a serialized Resource; the ids must be those inside `data`."""
        if not (resource_type and resource_id):
            raise C1zError(
                "a resource needs an id with type and resource: "
                f"{resource_type!r}, {resource_id!r}"
            )

        row = (
            resource_type,
            f"{resource_type}:{resource_id}",
            parent_type,
            parent_id,
            data,
            self._sync_id,
            self._discovered_at,
        )
        self._add(self._resources, row)

    def add_entitlement(self, entitlement: Entitlement) -> None:
        """Store an entitlement; its filter columns come from `resource.id`."""
        on = entitlement.resource.id
        if not (entitlement.id and on.resource_type and on.resource):
            raise C1zError(
                f"an entitlement needs an id and a resource: {entitlement.id}"
            )

        row = (
            on.resource_type,
            on.resource,
            entitlement.id,
            entitlement.SerializeToString(deterministic=True),
            self._sync_id,
            self._discovered_at,
        )
        self._add(self._entitlements, row)

    def add_grant(self, grant: Grant) -> None:
        """Store a grant; every filter column is taken from the message."""
        entitlement = grant.entitlement
        on = entitlement.resource.id
        principal = grant.principal.id
        self.add_grant_data(
            on.resource_type,
            on.resource,
            entitlement.id,
            principal.resource_type,
            principal.resource,
            grant.id,
            grant.SerializeToString(deterministic=True),
        )

    def add_grant_data(
        self,
        resource_type: str,
        resource_id: str,
        entitlement_id: str,
        principal_type: str,
        principal_id: str,
        grant_id: str,
        data: bytes,
    ) -> None:
        """Store a serialized Grant; the ids must be those inside `data`."""
        # Baton dereferences these four; a grant without them breaks its CLI.
        if not (resource_id and entitlement_id and principal_id and grant_id):
            raise C1zError(
                f"a grant needs an id, entitlement and principal: {grant_id}"
            )

        row = (
            resource_type,
            resource_id,
            entitlement_id,
            principal_type,
            principal_id,
            grant_id,
            data,
            self._sync_id,
            self._discovered_at,
        )
        self._add(self._grants, row)

    def _add(self, batch: _Batch, row: tuple[Any, ...]) -> None:
        if self._conn is None:
            raise C1zError(f"{self._path}: start() the writer before adding rows")

        batch.rows.append(row)
        if len(batch.rows) >= BATCH_ROWS:
            self._flush(batch, self._conn)

    def _flush(self, batch: _Batch, conn: sqlite3.Connection) -> None:
        batch.flush(conn)
        self._discovered_at = schema.format_timestamp(datetime.now(UTC))

    # --- steps of start() ---------------------------------------------------

    def _open_database(self, database: Path) -> sqlite3.Connection:
        if _has_content(self._path):
            self._copy_existing(database)

        conn = sqlite3.connect(database, isolation_level=None)
        try:
            for pragma in _PRAGMAS:
                conn.execute(pragma)
            conn.execute("begin")
            schema.apply_schema(conn)
            schema.drop_secondary_indexes(conn)
        except sqlite3.DatabaseError as error:
            conn.close()
            raise self._unusable(f"{self._path}: {error}") from error
        return conn

    def _copy_existing(self, database: Path) -> None:
        try:
            read_c1z(self._path, database)
        except C1zError as error:
            raise self._unusable(str(error)) from error
        except OSError as error:
            reason = f"{self._path}: cannot copy it to {database.parent} ({error})"
            raise self._unusable(reason) from error

        size = database.stat().st_size
        logger.debug("copied %s into %s (%d bytes)", self._path, database, size)

    def _unusable(self, reason: str) -> C1zError:
        return C1zError(
            f"{reason}. Cannot add a sync to {self._path}: move the file away or "
            "choose another output file (-f)."
        )

    def _begin_sync(self, conn: sqlite3.Connection) -> None:
        now = datetime.now(UTC)
        self._sync_id = new_ksuid(now)
        self._started_at = now
        self._discovered_at = schema.format_timestamp(now)

        conn.execute(_INSERT_SYNC_RUN, (self._sync_id, self._discovered_at))

    # --- steps of finish() --------------------------------------------------

    def _require_open(self) -> sqlite3.Connection:
        if self._conn is None:
            raise C1zError(f"{self._path}: the writer is not started or was closed")
        return self._conn

    def _close_sync(self, conn: sqlite3.Connection) -> str:
        for batch in self._batches:
            self._flush(batch, conn)

        ended_at = _next_ended_at(conn, datetime.now(UTC))
        conn.execute(
            "update v1_sync_runs set ended_at = ? where sync_id = ?",
            (ended_at, self._sync_id),
        )
        if not self._skip_cleanup:
            _delete_old_syncs(conn, self._keep_syncs)
        schema.create_indexes(conn)

        conn.execute("commit")
        return ended_at

    def _compact(self, conn: sqlite3.Connection) -> Path:
        """Close the database; return the file to compress.

        Deleted syncs and rebuilt indexes leave free pages behind; past a
        small share of the file they are squeezed out with VACUUM INTO. A
        freshly written database has next to none, and copying it would
        cost more than it saves.
        """
        assert self._workdir is not None
        database = self._workdir / _DATABASE_NAME
        (free,) = conn.execute("pragma freelist_count").fetchone()
        (pages,) = conn.execute("pragma page_count").fetchone()

        if free > pages * _VACUUM_FREE_SHARE:
            database = self._workdir / _COMPACT_NAME
            conn.execute("vacuum into ?", (str(database),))
        conn.close()
        self._conn = None

        size = database.stat().st_size
        logger.debug("database to compress: %s, %d bytes", database, size)
        return database

    def _publish(self, database: Path) -> int:
        target_dir = self._path.parent
        fd, name = tempfile.mkstemp(
            prefix=f".{self._path.name}.", suffix=".tmp", dir=target_dir
        )
        self._partial_output = Path(name)
        leftovers.claim_file(fd)

        with os.fdopen(fd, "wb") as out:
            size = write_c1z(database, out)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(self._partial_output, _output_mode(self._path))

        os.replace(self._partial_output, self._path)
        self._partial_output = None
        fsync_directory(target_dir)
        return size

    def _log_finish(self, ended_at: str, size: int) -> None:
        rows = {batch.table: batch.inserted for batch in self._batches}
        ignored = sum(batch.ignored for batch in self._batches)
        seconds = time.monotonic() - self._clock
        logger.info(
            "wrote sync %s to %s: %s, %d duplicates dropped, %d bytes, %.2f s",
            self._sync_id,
            self._path,
            ", ".join(f"{count} {table[3:]}" for table, count in rows.items()),
            ignored,
            size,
            seconds,
        )
        logger.debug("sync %s ended at %s", self._sync_id, ended_at)


def _next_ended_at(conn: sqlite3.Connection, now: datetime) -> str:
    """Return `now` as text, moved past every `ended_at` already in the file.

    Baton picks the latest sync by sorting `ended_at` as text (§3.3), so the
    new sync must sort last even if the clock went backwards.
    """
    candidate = schema.format_timestamp(now)
    (latest,) = conn.execute("select max(ended_at) from v1_sync_runs").fetchone()
    if latest is None or candidate > latest:
        return candidate

    bumped = schema.parse_timestamp(latest) + timedelta(microseconds=1)
    return schema.format_timestamp(bumped)


def _delete_old_syncs(conn: sqlite3.Connection, keep: int) -> None:
    """Keep the newest `keep` finished full syncs and whatever is newer.

    Other syncs (partial or unfinished) that started before the oldest kept
    one are deleted with their rows, as the SDK's cleanup does.
    """
    finished = conn.execute(
        "select sync_id, started_at from v1_sync_runs"
        " where ended_at is not null and sync_type = 'full'"
        " order by ended_at desc, sync_id desc"
    ).fetchall()
    kept = finished[:keep]
    if not kept:
        return

    oldest_start = min(started for _, started in kept)
    doomed = [sync_id for sync_id, _ in finished[keep:]]
    doomed += _older_other_syncs(conn, oldest_start)
    _delete_syncs(conn, doomed)


def _older_other_syncs(conn: sqlite3.Connection, before: str) -> list[str]:
    rows = conn.execute(
        "select sync_id from v1_sync_runs"
        " where (ended_at is null or sync_type != 'full') and started_at < ?",
        (before,),
    )
    return [sync_id for (sync_id,) in rows]


def _delete_syncs(conn: sqlite3.Connection, sync_ids: list[str]) -> None:
    if not sync_ids:
        return

    params = [(sync_id,) for sync_id in sync_ids]
    for table in (*schema.DATA_TABLES, schema.SYNC_RUNS):
        conn.executemany(f"delete from {table} where sync_id = ?", params)

    logger.debug("deleted old syncs %s", ", ".join(sync_ids))


def _has_content(path: Path) -> bool:
    try:
        return path.stat().st_size > 0
    except FileNotFoundError:
        return False


def _output_mode(path: Path) -> int:
    """Keep the permissions of the file we replace; 0o644 for a new one."""
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        return 0o644


def _keep_syncs_setting(explicit: int | None) -> int:
    if explicit is not None:
        keep = explicit
    else:
        text = os.environ.get(KEEP_SYNCS_ENV, "").strip()
        try:
            keep = int(text) if text else DEFAULT_KEEP_SYNCS
        except ValueError as error:
            message = f"{KEEP_SYNCS_ENV} must be a whole number, not {text!r}"
            raise C1zError(message) from error

    if keep < 1:
        raise C1zError(f"keep at least one sync (got {keep})")
    return keep


def _flag_setting(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in _FALSE_WORDS
