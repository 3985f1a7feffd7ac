"""Portable backups: every table the models declare, in a file any supported database restores.

Format (version 1): gzip-compressed JSON lines.

    {"format": "worklog-backup", "version": 1, "created_at": ..., "app_version": ...,
     "schema_revision": ..., "source_dialect": ..., "tables": {"users": {"columns": [...],
     "rows": N}, ...}}                                   header
    {"t": "users", "r": [value, ...]}                    one line per row, tables in
    ...                                                  foreign-key order
    {"end": true, "rows": N, "sha256": "...",            trailer
     "hmac_sha256": "...", "key_id": "..."}

The sha256 covers every byte before the trailer line, so a damaged or cut-off file is refused
before anything is written. A checksum anyone can recompute does not stop an edited file (a
member made admin, then re-checksummed), so the same bytes are also signed: HMAC-SHA256 with
the signing key (BACKUP_SIGNING_KEY, else a key derived from SECRET_KEY). `key_id` names the
key (a hash of it, not the key) so a refusal can tell "signed with another key" from "edited
after signing" (a file naming this server's key whose signature fails was edited). Restoring
refuses unsigned and wrongly signed files unless told otherwise.

Values are JSON; datetimes, dates and times as ISO 8601,
binary as base64, decimals as strings, each decoded by its column's type on restore.

Generic over `db.metadata`: a table added by a later model is backed up with no change here.
Restoring needs the target schema at the backup's migration revision (an empty database is
first migrated to head); SQLite's search index is filled by its triggers as rows go in, and
PostgreSQL's id sequences are moved past the restored ids.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

FORMAT = "worklog-backup"
VERSION = 1
BATCH = 1000

# The SECRET_KEY-derived signing key is HMAC(SECRET_KEY, this): a different key from SECRET_KEY's
# other uses, and the same on every instance that shares SECRET_KEY.
_DERIVE_CONTEXT = b"worklog backup signing key v1"

# Called with (rows just done, total rows) as a backup or restore goes along.
Progress = Callable[[int, int], None]


class BackupError(RuntimeError):
    """The backup cannot be made or restored; the message says why."""


def derived_key(secret_key: str) -> bytes:
    return hmac.new(secret_key.encode(), _DERIVE_CONTEXT, hashlib.sha256).digest()


def signing_key(config: Any) -> bytes:
    """The key backups are signed and checked with: BACKUP_SIGNING_KEY, else from SECRET_KEY."""
    explicit = config.get("BACKUP_SIGNING_KEY")
    if explicit:
        return explicit.encode()
    secret = config.get("SECRET_KEY")
    if not secret:
        raise BackupError("No key to sign backups with: set BACKUP_SIGNING_KEY (or SECRET_KEY).")
    return derived_key(secret)


def key_id(key: bytes) -> str:
    """A short name for a key that reveals nothing about it."""
    return hashlib.sha256(b"worklog key id:" + key).hexdigest()[:12]


@dataclass
class BackupSummary:
    path: Path | None
    tables: dict[str, int] = field(default_factory=dict)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def default_filename(now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"worklog-backup-{stamp}.jsonl.gz"


def tables_of(metadata: sa.MetaData) -> list[sa.Table]:
    """Parents before children, so foreign keys hold while rows go in."""
    return list(metadata.sorted_tables)


def base_type(column: sa.Column) -> sa.types.TypeEngine:
    kind = column.type
    while isinstance(kind, sa.types.TypeDecorator):
        kind = kind.impl_instance
    return kind


def _encode(value: Any) -> Any:
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    if isinstance(value, Decimal):
        return str(value)
    return value


def decoder_for(column: sa.Column) -> Callable[[Any], Any]:
    kind = base_type(column)
    if isinstance(kind, sa.DateTime):
        # Aware values come back aware (UTCDateTime insists), naive ones naive.
        return datetime.fromisoformat
    if isinstance(kind, sa.Date):
        return date.fromisoformat
    if isinstance(kind, sa.Time):
        return time.fromisoformat
    if isinstance(kind, sa.Interval):
        return lambda v: timedelta(seconds=v)
    if isinstance(kind, sa.LargeBinary):
        return base64.b64decode
    if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float) and kind.asdecimal:
        return Decimal
    return lambda v: v


def schema_revision(connection: sa.Connection) -> str | None:
    heads = MigrationContext.configure(connection).get_current_heads()
    return ",".join(sorted(heads)) or None


# --- create ---------------------------------------------------------------------------


class _HashingWriter:
    def __init__(self, raw: IO[bytes], key: bytes) -> None:
        self._raw = raw
        self.sha = hashlib.sha256()
        self.mac = hmac.new(key, digestmod=hashlib.sha256)

    def line(self, obj: Any, *, hashed: bool = True) -> None:
        data = (json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_encode) + "\n").encode()
        if hashed:
            self.sha.update(data)
            self.mac.update(data)
        self._raw.write(data)


def count_rows(conn: sa.Connection, metadata: sa.MetaData) -> dict[str, int]:
    return {t.name: conn.scalar(sa.select(sa.func.count()).select_from(t)) or 0 for t in tables_of(metadata)}


@contextlib.contextmanager
def _snapshot(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection that sees one consistent state of the database while the backup reads it.

    PostgreSQL: a REPEATABLE READ transaction. SQLite: every transaction here takes the write
    lock (see db_events), which would stop the app writing for the whole backup, so the file
    is first copied with SQLite's online backup API (a read, which WAL lets run beside
    writers) and the copy is read instead.
    """
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        options = {"isolation_level": "REPEATABLE READ"} if engine.dialect.name == "postgresql" else {}
        with engine.connect().execution_options(**options) as conn:
            yield conn
        return
    import sqlite3

    with tempfile.TemporaryDirectory(prefix="worklog-backup-") as tmp:
        copy = Path(tmp) / "snapshot.db"
        source = sqlite3.connect(f"file:{engine.url.database}?mode=ro", uri=True)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)
        finally:
            target.close()
            source.close()
        snapshot = sa.create_engine(f"sqlite:///{copy}", poolclass=sa.pool.NullPool)
        try:
            with snapshot.connect() as conn:
                yield conn
        finally:
            snapshot.dispose()


def create_backup(engine: sa.Engine, metadata: sa.MetaData, out: IO[bytes], *, app_version: str,
                  key: bytes, progress: Progress | None = None) -> BackupSummary:
    """Write a backup of every table in `metadata` to the binary stream `out`."""
    summary = BackupSummary(path=None)
    with _snapshot(engine) as conn, gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        counts = count_rows(conn, metadata)
        total = sum(counts.values())
        writer = _HashingWriter(gz, key)  # type: ignore[arg-type]
        tables = tables_of(metadata)
        writer.line({
            "format": FORMAT,
            "version": VERSION,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "app_version": app_version,
            "schema_revision": schema_revision(conn),
            "source_dialect": conn.dialect.name,
            "tables": {
                t.name: {"columns": [c.name for c in t.columns], "rows": counts[t.name]} for t in tables
            },
        })
        for table in tables:
            order = list(table.primary_key.columns) or list(table.columns)
            result = conn.execution_options(yield_per=BATCH).execute(sa.select(table).order_by(*order))
            written = 0
            for row in result:
                writer.line({"t": table.name, "r": [_encode(v) for v in row]})
                written += 1
                if progress and written % 100 == 0:
                    progress(100, total)
            if progress:
                progress(written % 100, total)
            summary.tables[table.name] = written
        writer.line({"end": True, "rows": summary.rows, "sha256": writer.sha.hexdigest(),
                     "hmac_sha256": writer.mac.hexdigest(), "key_id": key_id(key)}, hashed=False)
    return summary


def write_backup_file(engine: sa.Engine, metadata: sa.MetaData, path: Path, *, app_version: str,
                      key: bytes, progress: Progress | None = None) -> BackupSummary:
    """Write to a private temporary file beside `path`, then move it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".worklog-backup-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)  # password hashes and audit data: owner only
        with os.fdopen(fd, "wb") as fh:
            summary = create_backup(engine, metadata, fh, app_version=app_version, key=key,
                                    progress=progress)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    summary.path = path
    return summary


# --- read and verify ------------------------------------------------------------------


class SignatureError(BackupError):
    """The backup is intact but not signed, or not signed with the key given."""

    def __init__(self, message: str, *, unsigned: bool) -> None:
        super().__init__(message)
        self.unsigned = unsigned


@dataclass
class BackupFile:
    header: dict[str, Any]
    path: Path
    # "valid", "unsigned", "edited" or "wrong key": what the signature check found.
    signature: str = "valid"

    @property
    def tables(self) -> dict[str, dict[str, Any]]:
        return self.header["tables"]

    @property
    def total_rows(self) -> int:
        return sum(t["rows"] for t in self.tables.values())

    def rows(self) -> Iterator[tuple[str, list[Any]]]:
        with gzip.open(self.path, "rb") as fh:
            next(fh)
            for raw in fh:
                item = json.loads(raw)
                if "end" in item:
                    return
                yield item["t"], item["r"]


def open_backup(path: Path, keys: list[bytes], *, allow_unsigned: bool = False) -> BackupFile:
    """Read the header, check the checksum and the signature (with any of `keys`).

    BackupError if the file is damaged; SignatureError if it is unsigned or signed with none of
    `keys` (an edited file looks like the latter), unless `allow_unsigned`.
    """
    sha = hashlib.sha256()
    macs = [hmac.new(key, digestmod=hashlib.sha256) for key in keys]
    header: dict[str, Any] | None = None
    trailer: dict[str, Any] | None = None
    rows = 0
    try:
        with gzip.open(path, "rb") as fh:
            for raw in fh:
                if trailer is not None:
                    raise BackupError("The backup has data after its end marker; it is damaged.")
                item = json.loads(raw)
                if header is None:
                    header = item
                    if item.get("format") != FORMAT:
                        raise BackupError(f"{path} is not a Worklog backup.")
                    if item.get("version") != VERSION:
                        raise BackupError(
                            f"Backup format version {item.get('version')} is not supported "
                            f"(this release reads version {VERSION})."
                        )
                elif "end" in item:
                    trailer = item
                    continue
                else:
                    rows += 1
                sha.update(raw)
                for mac in macs:
                    mac.update(raw)
    except (OSError, EOFError, gzip.BadGzipFile, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BackupError(f"The backup {path} cannot be read; it is damaged or cut off ({exc}).") from exc
    if header is None or trailer is None:
        raise BackupError(f"The backup {path} is incomplete (no end marker); it was cut off.")
    if trailer.get("sha256") != sha.hexdigest() or trailer.get("rows") != rows:
        raise BackupError(f"The backup {path} fails its checksum; it is damaged. Nothing was restored.")
    signature = _signature_state(trailer, macs, {key_id(key) for key in keys})
    if signature == "unsigned" and not allow_unsigned:
        raise SignatureError(
            f"The backup {path} is not signed (made before backups were signed, or its signature "
            "was removed). Restore it only if you know where it comes from, with --allow-unsigned.",
            unsigned=True,
        )
    if signature == "edited" and not allow_unsigned:
        raise SignatureError(
            f"The backup {path} is wrongly signed: it names this server's key but its signature "
            "does not match, so it was edited after it was made. Nothing was restored.",
            unsigned=False,
        )
    if signature == "wrong key" and not allow_unsigned:
        raise SignatureError(
            f"The backup {path} is wrongly signed: it was signed with key "
            f"{trailer.get('key_id') or '?'}, not with this server's key. If BACKUP_SIGNING_KEY or "
            "SECRET_KEY changed since, pass the old one with --signing-key-file or "
            "--secret-key-file; otherwise treat the file as edited. Nothing was restored.",
            unsigned=False,
        )
    return BackupFile(header, path, signature)


def _signature_state(trailer: dict[str, Any], macs: list[Any], ids: set[str]) -> str:
    given = trailer.get("hmac_sha256")
    if not isinstance(given, str) or not given:
        return "unsigned"
    if any(hmac.compare_digest(mac.hexdigest(), given) for mac in macs):
        return "valid"
    return "edited" if trailer.get("key_id") in ids else "wrong key"
