"""Connection to recsec's results database and its schema migrations.

All reads and writes go through :meth:`Storage.transaction`, one context manager
that commits on success and rolls back on error (the way Optuna's RDB storage
works), so a crash mid-cell never leaves half-written rows behind.

The schema is owned by Alembic (``alembic/`` in the source tree, shipped as the
package ``recsec.migrations``); its version table is ``recsec_alembic_version``
so that Optuna's own tables and version table can share the same database.
"""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.orm import Session, sessionmaker

from recsec.errors import RecsecError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["DEFAULT_URL", "VERSION_TABLE", "Storage", "StorageError", "migrations_dir", "normalize_url", "mask_url"]

#: Used when neither the ``url`` argument nor the ``RECSEC_DB`` variable is set.
DEFAULT_URL = "sqlite:///recsec.db"
#: Alembic's version table; not the default name, so Optuna's tables can share the database.
VERSION_TABLE = "recsec_alembic_version"
#: How long a SQLite writer waits for another process's lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000

# Execution option that makes a SQLite transaction start with a plain (deferred) BEGIN.
_READONLY_OPTION = "recsec_readonly"
# Key of the PostgreSQL advisory lock that serialises concurrent schema upgrades.
_PG_MIGRATION_LOCK_KEY = 0x7265637365  # "recse"
# Alembic's command API keeps its context in module globals: one migration per process at a time.
_ALEMBIC_LOCK = threading.Lock()


class StorageError(RecsecError):
    """The results database cannot be opened, reached or migrated."""


def normalize_url(url: str) -> str:
    """Return ``url`` with PostgreSQL URLs pointed at the psycopg 3 driver.

    ``postgres://`` (Heroku style) and a bare ``postgresql://`` would otherwise
    make SQLAlchemy look for psycopg2, which recsec does not depend on.
    """
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def mask_url(url: str | URL) -> str:
    """Return ``url`` as text with its password replaced by ``***`` (safe for messages)."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except ArgumentError:
        return str(url)
    return parsed.render_as_string(hide_password=True)


def migrations_dir() -> Path:
    """Return the directory holding Alembic's ``env.py`` and ``versions/``.

    In a wheel this is the namespace package ``recsec.migrations``. Setuptools'
    editable finder cannot resolve that namespace package below the mapped
    ``recsec`` package, so for a source checkout we fall back to ``alembic/``
    next to ``core/``.
    """
    import recsec

    candidates: list[Path] = []
    try:
        spec = importlib.util.find_spec("recsec.migrations")
    except (ImportError, ValueError):
        spec = None
    if spec is not None and spec.submodule_search_locations:
        candidates += [Path(p) for p in spec.submodule_search_locations]
    package_root = Path(recsec.__file__).resolve().parent
    candidates.append(package_root / "migrations")  # installed wheel
    if package_root.name == "core":  # source tree / editable install
        candidates.append(package_root.parent / "alembic")
    for candidate in candidates:
        if (candidate / "env.py").is_file() and (candidate / "versions").is_dir():
            return candidate
    raise StorageError(
        "cannot find recsec's database migrations (looked in "
        + ", ".join(str(c) for c in candidates)
        + "); is the recsec installation complete?"
    )


def _install_sqlite_pragmas(engine: Engine, readonly: bool = False) -> None:
    """Configure every new SQLite connection for concurrent use by several workers.

    WAL lets readers run while one process writes; ``busy_timeout`` makes a
    writer wait for the lock instead of failing at once; foreign keys are off
    by default in SQLite. Transactions start with ``BEGIN IMMEDIATE`` (taking
    the write lock up front) because a deferred transaction that reads and then
    writes fails with "database is locked" without waiting when another process
    wrote in between. Read-only transactions keep a deferred ``BEGIN``. A
    read-only engine leaves the journal mode alone: switching it is a write.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy (the "begin" hook below) instead
        # of the sqlite3 module's implicit BEGIN before DML.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if not readonly:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        deferred = readonly or connection.get_execution_options().get(_READONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


def _readonly_engine_args(url: URL) -> dict[str, Any]:
    """``create_engine`` arguments that open ``url`` for reading only.

    SQLite: the file must exist (connecting would create an empty one) and is
    opened through a ``mode=ro`` URI; PostgreSQL: every transaction is READ ONLY.
    """
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            raise StorageError(f"cannot read {mask_url(url)}: name a SQLite file, e.g. sqlite:///recsec.db")
        path = Path(database).resolve()
        if not path.is_file():
            raise StorageError(f"no database at {path}: nothing to read (run `recsec run` first, or pass --db URL)")
        uri = f"file:{urllib.parse.quote(str(path))}?mode=ro"
        return {"creator": lambda: sqlite3.connect(uri, uri=True, check_same_thread=False)}
    if url.get_backend_name() == "postgresql":
        return {"execution_options": {"postgresql_readonly": True}}
    return {}


class Storage:
    """recsec's results database: an engine, a session factory and schema migrations.

    ``url`` is any SQLAlchemy URL; without one, ``$RECSEC_DB`` is used, else
    ``sqlite:///recsec.db`` in the current directory. Nothing is connected
    until first use. One ``Storage`` per process: after ``fork``, call
    :meth:`dispose` in the child before using it.

    ``readonly=True`` is for commands that only read (``recsec results``,
    ``recsec report``): a SQLite file must exist and is opened with
    ``mode=ro`` (never created, never switched to WAL), PostgreSQL sessions
    are read-only, and migrating is refused.
    """

    def __init__(self, url: str | None = None, *, readonly: bool = False) -> None:
        raw = url or os.environ.get("RECSEC_DB") or DEFAULT_URL
        self.url: str = normalize_url(raw)
        self.readonly: bool = readonly
        try:
            parsed = make_url(self.url)
        except ArgumentError as exc:
            raise StorageError(f"invalid database URL {raw!r}: expected e.g. sqlite:///recsec.db or postgresql://user@host/db") from exc
        self.display_url: str = mask_url(parsed)
        try:
            self.engine: Engine = create_engine(parsed, **(_readonly_engine_args(parsed) if readonly else {}))
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            raise StorageError(f"cannot use database URL {self.display_url}: {exc}") from exc
        self.is_sqlite: bool = self.engine.dialect.name == "sqlite"
        if self.is_sqlite:
            _install_sqlite_pragmas(self.engine, readonly)
        self._sessions = sessionmaker(bind=self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"Storage({self.display_url!r})"

    def __enter__(self) -> Storage:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.dispose()

    def dispose(self) -> None:
        """Close all pooled connections (also the right call in a forked child)."""
        self.engine.dispose()

    # -- connections and transactions ---------------------------------------------------

    def _connection_error(self, exc: Exception) -> StorageError:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        first = detail[0] if detail else type(exc).__name__
        hint = " (does its directory exist?)" if self.is_sqlite and "unable to open" in first else ""
        return StorageError(f"cannot open the database {self.display_url}{hint}: {first}")

    @contextmanager
    def connect(self, *, readonly: bool = False) -> Iterator[Connection]:
        """Yield a raw connection (no transaction begun); errors name the URL."""
        try:
            conn = self.engine.connect()
        except DBAPIError as exc:
            raise self._connection_error(exc) from exc
        try:
            if readonly:
                conn.execution_options(**{_READONLY_OPTION: True})
            yield conn
        finally:
            conn.close()

    @contextmanager
    def transaction(self, *, readonly: bool = False) -> Iterator[Session]:
        """Yield a ``Session`` in one transaction: committed on success, rolled back on error.

        Objects stay usable after the block (``expire_on_commit=False``), but
        lazy relationships cannot be loaded once the session is closed.
        ``readonly=True`` only matters on SQLite, where it avoids taking the
        write lock at the start of the transaction.
        """
        session = self._sessions()
        try:
            try:
                options = {_READONLY_OPTION: True} if readonly else None
                session.connection(execution_options=options)
            except DBAPIError as exc:
                raise self._connection_error(exc) from exc
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    # -- schema migrations -------------------------------------------------------------

    def _alembic_config(self, connection: Connection | None = None) -> Config:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(migrations_dir()))
        config.set_main_option("sqlalchemy.url", self.url.replace("%", "%%"))
        if connection is not None:
            config.attributes["connection"] = connection
        return config

    def _migrate(self, command_name: str, revision: str) -> None:
        from alembic import command
        from alembic.util.exc import CommandError

        if self.readonly:
            raise StorageError(f"cannot {command_name} {self.display_url}: it was opened read-only")
        run = getattr(command, command_name)
        with _ALEMBIC_LOCK, self.connect() as conn:
            try:
                with conn.begin():
                    if conn.dialect.name == "postgresql":
                        # Two workers upgrading at once: the second waits, then finds head.
                        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK_KEY})
                    run(self._alembic_config(conn), revision)
            except CommandError as exc:
                raise StorageError(
                    f"cannot {command_name} the database {self.display_url} to {revision!r}: {exc} "
                    f"(database at {self.current_revision()!r}, this recsec knows head {self.head_revision()!r})"
                ) from exc
            except DBAPIError as exc:
                raise StorageError(f"migrating the database {self.display_url} failed: {exc}") from exc

    def upgrade(self, revision: str = "head") -> None:
        """Migrate the schema up to ``revision`` (all of it in one transaction where the DB allows)."""
        self._migrate("upgrade", revision)

    def downgrade(self, revision: str) -> None:
        """Migrate the schema down to ``revision`` (``"base"`` drops every recsec table)."""
        self._migrate("downgrade", revision)

    def current_revision(self) -> str | None:
        """Return the schema revision stored in the database, or ``None`` if it has none yet."""
        from alembic.runtime.migration import MigrationContext

        with self.connect(readonly=True) as conn:
            try:
                context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
                return context.get_current_revision()
            except DBAPIError as exc:
                raise self._connection_error(exc) from exc

    def head_revision(self) -> str | None:
        """Return the newest schema revision this version of recsec ships."""
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(self._alembic_config()).get_current_head()

    def is_up_to_date(self) -> bool:
        """Whether the database schema is at this recsec's head revision."""
        return self.current_revision() == self.head_revision()

    def check_schema(self) -> Storage:
        """Raise a one-line :class:`StorageError` unless the schema is at this recsec's head.

        For readers, which never migrate: the message names the command that does.
        Returns ``self`` for chaining.
        """
        current, head = self.current_revision(), self.head_revision()
        if current == head:
            return self
        upgrade = f"run `recsec db upgrade --db {self.display_url}`"
        if current is None:
            raise StorageError(f"{self.display_url} holds no recsec results schema; {upgrade} (or `recsec run`) first")
        from alembic.script import ScriptDirectory
        from alembic.util.exc import CommandError

        try:
            known = ScriptDirectory.from_config(self._alembic_config()).get_revision(current) is not None
        except CommandError:
            known = False
        if not known:
            raise StorageError(f"{self.display_url} has schema {current}, newer than this recsec knows (head {head}): upgrade recsec")
        raise StorageError(f"{self.display_url} has schema {current}, behind this recsec's {head}; {upgrade}")

    def ensure_schema(self) -> Storage:
        """Upgrade the schema to head if it is not there yet; return ``self`` for chaining."""
        if not self.is_up_to_date():
            self.upgrade()
        return self
