"""Row helpers of the storage layer: JSON cleaning and concurrency-safe inserts.

JSON payloads are cleaned before storage: NumPy scalars become Python numbers, NaN and
infinities become ``null`` (PostgreSQL's JSON rejects them), and unknown objects become
their ``str``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session


def _clean(value: Any) -> Any:
    """Return ``value`` as plain JSON data (see the module docstring)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_clean(v) for v in value]
    item = getattr(value, "item", None)  # NumPy / torch scalars
    if callable(item):
        try:
            return _clean(item())
        except (TypeError, ValueError):
            pass
    if hasattr(value, "tolist"):  # NumPy arrays
        return _clean(value.tolist())
    return str(value)


def _finite_or_none(value: Any) -> float | None:
    cleaned = _clean(value)
    if cleaned is None or isinstance(cleaned, bool) or not isinstance(cleaned, (int, float)):
        return None
    return float(cleaned)


def _insert_if_missing(session: Session, table: Table, values: dict[str, Any], key: str) -> None:
    """Insert a row unless one with the same ``key`` exists, safely under concurrency."""
    dialect = session.get_bind().dialect.name
    if dialect in ("sqlite", "postgresql"):
        insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
        session.execute(insert(table).values(values).on_conflict_do_nothing(index_elements=[key]))
        return
    if session.execute(select(table.c[key]).where(table.c[key] == values[key])).first() is None:
        try:
            with session.begin_nested():
                session.execute(table.insert().values(values))
        except IntegrityError:  # another worker inserted it first
            pass
