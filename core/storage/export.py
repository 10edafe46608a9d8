"""Exports of stored cells: thin wrappers over the read model (``recsec.results``, ``recsec.tables``)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from sqlalchemy.orm import Session


def _selected(session: Session, benchmark: str | None, status: str | Iterable[str] | None) -> list[Any]:
    from recsec.results import load_session

    statuses = None if status is None else ({status} if isinstance(status, str) else set(status))
    return [c for c in load_session(session, benchmark).cells if statuses is None or c.status in statuses]


def export_rows(
    session: Session, *, benchmark: str | None = None, status: str | Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """One flat dict per cell, as :func:`recsec.tables.cell_row` builds it: every identity
    column (config and setup hash, parameters, versions, ``k``, tuning, data fingerprint),
    the outcome, then one column per metric and ``diag.*`` diagnostic."""
    from recsec.tables import cell_rows

    return cell_rows(_selected(session, benchmark, status))[0]


def export(
    session: Session,
    format: Literal["csv", "json"] = "csv",
    *,
    benchmark: str | None = None,
    status: str | Iterable[str] | None = None,
) -> str:
    """:func:`export_rows` as CSV (header row, empty field for a missing value) or JSON."""
    from recsec.tables import cell_rows, to_csv, to_json

    if format not in ("csv", "json"):
        raise ValueError(f"unknown export format {format!r}; expected 'csv' or 'json'")
    rows, columns = cell_rows(_selected(session, benchmark, status))
    return to_json(rows) if format == "json" else to_csv(rows, columns)
