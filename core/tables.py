"""Flat rows of the read model: one per cell or per trial, with every identity column.

The same rows feed ``recsec results --format csv|json``, the report's downloads
and the pandas API (``recsec.load_results`` / ``recsec.load_trials``), so a
number can be traced to its configuration whichever way it left the database.
Nested values (parameters, tuning setup, versions) stay objects in JSON and
become compact JSON text in CSV and DataFrames.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from recsec.judges import names
from recsec.results import KINDS, CellRecord, Results, load

if TYPE_CHECKING:  # pragma: no cover
    import pandas

__all__ = [
    "IDENTITY_COLUMNS",
    "OUTCOME_COLUMNS",
    "cell_row",
    "cell_rows",
    "trial_rows",
    "flat",
    "csv_safe",
    "to_csv",
    "to_json",
    "load_results",
    "load_trials",
]

#: What a cell is: everything its result depends on (the seed included).
IDENTITY_COLUMNS: tuple[str, ...] = (
    "config_hash",
    "setup_hash",
    "benchmark",
    *(f"{kind}{part}" for kind in KINDS for part in ("", "_version", "_params")),
    "seed",
    "k",
    "tune",
    "data_fingerprint",
    "versions",
)
#: How it went and where it ran.
OUTCOME_COLUMNS: tuple[str, ...] = ("status", "n_trials", "skip_reason", "error", "run_id", "hardware", "timings", "updated_at")
_LEADING = IDENTITY_COLUMNS + OUTCOME_COLUMNS
_GROUP_ORDER = ("attack", "defense", "utility", "defended", "victim", "tune")


def _metric_order(name: str) -> tuple[int, str]:
    prefix = name.split(".", 1)[0] if "." in name else ""
    return (_GROUP_ORDER.index(prefix) if prefix in _GROUP_ORDER else len(_GROUP_ORDER), name)


def _diag_name(name: str) -> str:
    return name if names.is_diagnostic(name) else f"{names.DIAGNOSTIC_PREFIX}.{name}"


def _metric_column(name: str) -> str:
    """A metric's column: its name, or ``metric:<name>`` where that is a leading column's."""
    return f"metric:{name}" if name in _LEADING else name


def cell_row(cell: CellRecord) -> dict[str, Any]:
    """Identity, outcome, then every metric and ``diag.*`` diagnostic of one cell."""
    row: dict[str, Any] = {"config_hash": cell.config_hash, "setup_hash": cell.setup_hash, "benchmark": cell.benchmark}
    for comp in cell.components:
        row.update({comp.kind: comp.instance, f"{comp.kind}_version": comp.version, f"{comp.kind}_params": dict(comp.params)})
    row.update(seed=cell.seed, k=cell.k, tune=cell.tune, data_fingerprint=cell.data_fingerprint, versions=dict(cell.versions))
    first_line = (cell.error or "").strip().splitlines()
    row.update(
        status=cell.status,
        n_trials=cell.trial_count or None,
        skip_reason=cell.skip_reason,
        error=first_line[0] if first_line else None,
        run_id=cell.run_id,
        hardware=dict(cell.hardware),
        timings=dict(cell.timings),
        updated_at=cell.updated_at,
    )
    row.update({_metric_column(k): v for k, v in cell.metrics.items()})
    row.update({_diag_name(k): v for k, v in cell.diagnostics.items()})
    return row


def _columns(rows: Sequence[Mapping[str, Any]], leading: Sequence[str]) -> list[str]:
    rest = {k for row in rows for k in row if k not in leading}
    return [*leading, *sorted(rest, key=_metric_order)]


def cell_rows(cells: Iterable[CellRecord]) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of :func:`cell_row` and their columns: identity, outcome, metrics, diagnostics
    (every row has every column; None where a cell has no such value)."""
    rows = [cell_row(c) for c in cells]
    columns = _columns(rows, _LEADING)
    return [{c: row.get(c) for c in columns} for row in rows], columns


#: Identity columns repeated on every trial row.
TRIAL_IDENTITY: tuple[str, ...] = ("config_hash", "setup_hash", "benchmark", *KINDS, "seed", "k", "tune", "data_fingerprint")


def trial_rows(cells: Iterable[CellRecord]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per Optuna trial: its cell's identity, ``trial``, ``state``, ``value``,
    ``param.<name>`` per searched parameter, then the trial's metrics."""
    rows = []
    for cell in cells:
        ident = {k: v for k, v in cell_row(cell).items() if k in TRIAL_IDENTITY}
        for t in cell.trials:
            row = {**ident, "trial": t.number, "state": t.state, "value": t.value}
            row.update({f"param.{k}": v for k, v in t.params.items()})
            row.update({_metric_column(k): v for k, v in t.metrics.items()})
            rows.append(row)
    leading = [*TRIAL_IDENTITY, "trial", "state", "value"]
    params = sorted({k for r in rows for k in r if k.startswith("param.")})
    columns = _columns(rows, [*leading, *params])
    return [{c: row.get(c) for c in columns} for row in rows], columns


def flat(value: Any) -> Any:
    """A CSV / DataFrame cell: mappings and lists as compact JSON, datetimes as ISO text."""
    if isinstance(value, (Mapping, list, tuple)):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


#: A spreadsheet evaluates a field that starts with one of these as a formula (CSV injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: Any) -> Any:
    """``value`` as a CSV field (:func:`flat`); a text that a spreadsheet would run as a formula
    (a benchmark or metric name such as ``=HYPERLINK(...)``) gets a leading ``'``, the usual
    escape that makes it show as text. Numbers, negative ones included, are left as numbers."""
    value = flat(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def to_csv(rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> str:
    """CSV with a header row; an absent value is an empty field; every text field and column
    name passes :func:`csv_safe`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([csv_safe(c) for c in columns])
    writer.writerows([csv_safe(row.get(c)) for c in columns] for row in rows)
    return out.getvalue()


def to_json(rows: Iterable[Mapping[str, Any]]) -> str:
    return json.dumps(list(rows), indent=2, default=lambda v: v.isoformat() if isinstance(v, datetime) else str(v))


def _frame(rows: list[dict[str, Any]], columns: list[str]) -> "pandas.DataFrame":
    import pandas as pd

    frame = pd.DataFrame([{k: flat(v) for k, v in row.items()} for row in rows], columns=columns)
    for col in columns:
        values = [row[col] for row in rows if row.get(col) is not None]
        # metrics and numeric diagnostics: float, NaN where a row has none
        if col not in _LEADING and values and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
            frame[col] = pd.to_numeric(frame[col])
    return frame


def _results(db: "str | Results | None", benchmark: str | None) -> Results:
    if isinstance(db, Results):
        return db
    return load(db, benchmark)


def load_results(db: str | None = None, benchmark: str | None = None) -> "pandas.DataFrame":
    """One row per stored cell: every identity column, status, every metric and ``diag.*`` column.

    ``db`` is a database URL (default ``$RECSEC_DB``, else ``./recsec.db``), opened
    read-only; a schema behind this recsec is an error naming ``recsec db upgrade``.
    Parameters, tuning setup and versions are compact JSON text; metrics are floats
    (NaN where a cell has none). Group by ``setup_hash`` to aggregate seeds of one setup.
    """
    rows, columns = cell_rows(_results(db, benchmark).cells)
    return _frame(rows, columns)


def load_trials(db: str | None = None, benchmark: str | None = None) -> "pandas.DataFrame":
    """One row per Optuna trial of a tuned cell, with its cell's identity (see :func:`trial_rows`)."""
    rows, columns = trial_rows(_results(db, benchmark).cells)
    return _frame(rows, columns)
