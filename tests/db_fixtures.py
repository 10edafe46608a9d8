"""Database fixtures: a SQLite file per test and, when reachable, a PostgreSQL schema per test.

PostgreSQL: the server named by ``$RECSEC_TEST_PG_URL`` (default: user
``postgres`` on 127.0.0.1:5432, database ``test``). Each test session creates
its own database ``recsec_test_<random>`` (dropped at the end) and each test
gets a fresh schema in it, selected through ``search_path``, so concurrent
test runs never collide. An unreachable server skips the PostgreSQL tests,
except with ``CI=true``, where it fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from recsec.storage.db import Storage, normalize_url

# Imported into conftest.py with ``*``: export the fixtures only.
__all__ = ["pg_server_url", "pg_database_url", "pg_database_admin", "pg_url", "sqlite_url", "db_url", "storage"]

DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


def _admin_engine(url: str) -> Engine:
    return create_engine(normalize_url(url), isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})


@pytest.fixture(scope="session")
def pg_server_url() -> str:
    """URL of a reachable PostgreSQL server's maintenance database (skip/fail if down)."""
    url = os.environ.get("RECSEC_TEST_PG_URL", DEFAULT_PG_URL)
    engine = _admin_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means "not usable"
        reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        message = f"PostgreSQL not reachable at {make_url(url).render_as_string(hide_password=True)}: {reason}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def pg_database_url(pg_server_url: str) -> Iterator[str]:
    """A database created for this test session only, dropped afterwards."""
    name = f"recsec_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(pg_server_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(pg_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database_admin(pg_database_url: str) -> Iterator[Engine]:
    """An autocommit engine on the session's database, for creating per-test schemas."""
    engine = _admin_engine(pg_database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def pg_url(pg_database_url: str, pg_database_admin: Engine) -> Iterator[str]:
    """URL of an empty schema (first on ``search_path``) in the session's database."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_database_admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(pg_database_url).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with pg_database_admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a SQLite file that does not exist yet."""
    return f"sqlite:///{tmp_path / 'recsec.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """An empty database, once per backend: SQLite file and PostgreSQL schema."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def storage(db_url: str) -> Iterator[Storage]:
    """A ``recsec.storage.Storage`` on ``db_url``, migrated to head; disposed afterwards."""
    store = Storage(db_url)
    store.upgrade()
    yield store
    store.dispose()
