"""Reading and writing runs, cells, trials and artifacts.

Plain functions that take the ``Session`` yielded by
:meth:`recsec.storage.db.Storage.transaction`; they flush but never commit, so
the caller decides what one transaction covers. Every ``save_*`` function
replaces one cell's outcome only (its own metric rows, and its trials when
given); other cells are never touched.

A cell is named either by a :class:`CellIdentity` (created if missing, as
:func:`claim_cell` does), by the same fields as keyword arguments, or by the
``config_hash`` of a cell already stored (e.g. after :func:`claim_cell`).

JSON payloads are cleaned before storage: NumPy scalars become Python numbers,
NaN and infinities become ``null`` (PostgreSQL's JSON rejects them), and
unknown objects become their ``str``. A non-finite metric gets no ``Metric`` row.
"""

from __future__ import annotations

import csv
import io
import json
import math
import traceback as tb
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from recsec.storage.models import Artifact, Cell, Metric, Run, Trial, utcnow

__all__ = [
    "CELL_STATUSES",
    "EXPORT_COLUMNS",
    "CellIdentity",
    "CellRef",
    "start_run",
    "finish_run",
    "get_cell",
    "claim_cell",
    "save_done",
    "save_failed",
    "save_skipped",
    "save_trials",
    "record_artifact",
    "get_artifact",
    "list_cells",
    "export_rows",
    "export",
]

CELL_STATUSES = ("pending", "running", "done", "failed", "skipped")
#: Leading columns of :func:`export_rows`; metric columns follow, sorted by name.
EXPORT_COLUMNS = ("benchmark", "dataset", "recommender", "attack", "defense", "seed", "status")


@dataclass(frozen=True)
class CellIdentity:
    """What identifies a cell: its hash and the names the reports group by.

    ``config`` holds the full identities (names, versions, parameters) of the
    components and the tuning setup, i.e. what ``config_hash`` was computed from.
    """

    config_hash: str
    benchmark: str
    dataset: str
    recommender: str
    attack: str
    defense: str
    seed: int
    config: Mapping[str, Any] = field(default_factory=dict)


# -- JSON cleaning -----------------------------------------------------------------------


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


# -- upserts -----------------------------------------------------------------------------


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


def _upsert_cell(session: Session, ident: CellIdentity, run_id: int | None) -> Cell:
    """Return the cell with ``ident.config_hash`` (locked for update), creating it if needed."""
    values = {
        "config_hash": ident.config_hash,
        "benchmark": ident.benchmark,
        "dataset": ident.dataset,
        "recommender": ident.recommender,
        "attack": ident.attack,
        "defense": ident.defense,
        "seed": int(ident.seed),
        "config": _clean(ident.config),
        "status": "pending",
        "run_id": run_id,
    }
    _insert_if_missing(session, Cell.__table__, values, "config_hash")
    cell = session.scalars(
        select(Cell).where(Cell.config_hash == ident.config_hash).with_for_update().execution_options(populate_existing=True)
    ).one()
    for name, value in values.items():
        if name != "status" and (name != "run_id" or value is not None):
            setattr(cell, name, value)
    cell.updated_at = utcnow()
    return cell


CellRef = CellIdentity | str
"""A cell to write: its identity (upserted) or the ``config_hash`` of a stored cell."""


def _identity(ident: CellRef | None, fields: dict[str, Any]) -> CellRef:
    if ident is None:
        return CellIdentity(**fields)  # TypeError names a missing or unknown field
    if fields:
        raise TypeError(f"pass either a cell or its fields, not both (got {sorted(fields)})")
    return ident


def _cell_for(session: Session, ref: CellRef | Cell, run_id: int | None) -> Cell:
    """Return the ``Cell`` row that ``ref`` names (upserting a ``CellIdentity``)."""
    if isinstance(ref, Cell):
        return ref
    if isinstance(ref, CellIdentity):
        return _upsert_cell(session, ref, run_id)
    cell = session.scalars(select(Cell).where(Cell.config_hash == ref).with_for_update()).one_or_none()
    if cell is None:
        raise LookupError(f"no stored cell with config_hash {ref!r}; claim it (or pass a CellIdentity) first")
    if run_id is not None:
        cell.run_id = run_id
    cell.updated_at = utcnow()
    return cell


def _set_metrics(session: Session, cell: Cell, metrics: Mapping[str, Any]) -> None:
    """Replace ``cell``'s metrics (JSON column and ``Metric`` rows) with ``metrics``."""
    cleaned = {str(name): _finite_or_none(value) for name, value in metrics.items()}
    cell.metrics = cleaned
    session.execute(delete(Metric).where(Metric.cell_id == cell.id))
    session.add_all(Metric(cell_id=cell.id, name=name, value=value) for name, value in cleaned.items() if value is not None)
    session.flush()
    session.expire(cell, ["metric_rows"])


# -- runs --------------------------------------------------------------------------------


def start_run(
    session: Session,
    benchmark: str,
    *,
    spec_path: str = "",
    spec_text: str = "",
    recsec_version: str | None = None,
    hardware: Mapping[str, Any] | None = None,
    options: Mapping[str, Any] | None = None,
) -> int:
    """Record the start of a ``recsec run`` invocation and return the new run's id."""
    if recsec_version is None:
        import recsec

        recsec_version = recsec.__version__
    run = Run(
        benchmark=benchmark,
        spec_path=str(spec_path),
        spec_text=spec_text,
        status="running",
        recsec_version=recsec_version,
        hardware=_clean(hardware or {}),
        options=_clean(options or {}),
    )
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, status: str = "finished") -> Run:
    """Mark run ``run_id`` as ended with ``status`` (``finished`` or ``interrupted``)."""
    run = session.get(Run, run_id)
    if run is None:
        raise KeyError(f"no run with id {run_id}")
    run.status = status
    run.finished_at = utcnow()
    session.flush()
    return run


# -- cells -------------------------------------------------------------------------------


def get_cell(session: Session, config_hash: str) -> Cell | None:
    """Return the stored cell with this ``config_hash``, or ``None``."""
    return session.scalars(select(Cell).where(Cell.config_hash == config_hash)).one_or_none()


def claim_cell(session: Session, ident: CellRef | None = None, *, run_id: int | None = None, **fields: Any) -> Cell:
    """Create or update the cell as ``running`` before it is executed.

    ``fields`` (``config_hash=..., benchmark=..., ...``) may stand in for ``ident``.
    A previous outcome stays in place until a ``save_*`` call replaces it.
    """
    cell = _cell_for(session, _identity(ident, fields), run_id)
    cell.status = "running"
    session.flush()
    return cell


def save_done(
    session: Session,
    ident: CellRef,
    metrics: Mapping[str, Any],
    *,
    timings: Mapping[str, Any] | None = None,
    versions: Mapping[str, Any] | None = None,
    hardware: Mapping[str, Any] | None = None,
    victim_key: str | None = None,
    n_trials: int | None = None,
    study_name: str | None = None,
    trials: Sequence[Mapping[str, Any]] | None = None,
    run_id: int | None = None,
) -> Cell:
    """Store a finished cell: its metrics (JSON and one ``Metric`` row each) and details.

    ``trials``, when given, replace the cell's stored trials.
    """
    cell = _cell_for(session, ident, run_id)
    cell.status = "done"
    cell.skip_reason = cell.error = cell.traceback = None
    cell.timings = _clean(timings or {})
    cell.versions = _clean(versions or {})
    cell.hardware = _clean(hardware or {})
    cell.victim_key = victim_key
    cell.n_trials = n_trials
    cell.study_name = study_name
    _set_metrics(session, cell, metrics)
    if trials is not None:
        save_trials(session, cell, trials)
    session.flush()
    return cell


def save_failed(
    session: Session,
    ident: CellRef,
    error: BaseException | str,
    traceback: str | None = None,
    *,
    status: Literal["failed", "pending"] = "failed",
    timings: Mapping[str, Any] | None = None,
    versions: Mapping[str, Any] | None = None,
    hardware: Mapping[str, Any] | None = None,
    trials: Sequence[Mapping[str, Any]] | None = None,
    run_id: int | None = None,
) -> Cell:
    """Store a failed cell. Given an exception and no ``traceback``, its traceback is formatted.

    Old metrics of the cell are removed: they no longer describe its latest outcome.
    ``status="pending"`` records an interrupted cell, to be run again next time.
    """
    if isinstance(error, BaseException):
        if traceback is None:
            traceback = "".join(tb.format_exception(error))
        message = f"{type(error).__name__}: {error}"
    else:
        message = str(error)
    cell = _cell_for(session, ident, run_id)
    cell.status = status
    cell.error = message
    cell.traceback = traceback
    cell.skip_reason = None
    cell.timings = _clean(timings or {})
    cell.versions = _clean(versions or {})
    cell.hardware = _clean(hardware or {})
    _set_metrics(session, cell, {})
    if trials is not None:
        save_trials(session, cell, trials)
    session.flush()
    return cell


def save_skipped(
    session: Session, ident: CellRef | None = None, reason: str = "", *, run_id: int | None = None, **fields: Any
) -> Cell:
    """Store a cell that was not run (e.g. attack incompatible with the recommender) and why.

    ``fields`` (``config_hash=..., benchmark=..., ...``) may stand in for ``ident``.
    """
    cell = _cell_for(session, _identity(ident, fields), run_id)
    cell.status = "skipped"
    cell.skip_reason = reason
    cell.error = cell.traceback = None
    _set_metrics(session, cell, {})
    session.flush()
    return cell


def save_trials(session: Session, cell: Cell | CellRef, trials: Iterable[Mapping[str, Any]]) -> list[Trial]:
    """Replace the trials of ``cell`` (a row, identity or stored ``config_hash``) with ``trials``.

    Each mapping may hold ``number`` (default: its position), ``state``
    (default ``"COMPLETE"``), ``value``, ``params`` and ``metrics``.
    """
    cell = _cell_for(session, cell, None)
    session.execute(delete(Trial).where(Trial.cell_id == cell.id))
    rows = [
        Trial(
            cell_id=cell.id,
            number=int(t.get("number", i)),
            state=str(t.get("state", "COMPLETE")),
            value=_finite_or_none(t.get("value")),
            params=_clean(t.get("params") or {}),
            metrics=_clean(t.get("metrics") or {}),
        )
        for i, t in enumerate(trials)
    ]
    session.add_all(rows)
    session.flush()
    session.expire(cell, ["trials"])
    return rows


def list_cells(
    session: Session,
    *,
    benchmark: str | None = None,
    status: str | Iterable[str] | None = None,
    run_id: int | None = None,
) -> list[Cell]:
    """Return the cells matching every given filter, ordered by their identity columns."""
    query = select(Cell)
    if benchmark is not None:
        query = query.where(Cell.benchmark == benchmark)
    if status is not None:
        statuses = [status] if isinstance(status, str) else list(status)
        query = query.where(Cell.status.in_(statuses))
    if run_id is not None:
        query = query.where(Cell.run_id == run_id)
    query = query.order_by(Cell.benchmark, Cell.dataset, Cell.recommender, Cell.attack, Cell.defense, Cell.seed, Cell.id)
    return list(session.scalars(query))


# -- artifacts ---------------------------------------------------------------------------


def _artifact_dict(artifact: Artifact) -> dict[str, Any]:
    return {name: getattr(artifact, name) for name in ("key", "kind", "path", "sha256", "meta", "created_at")}


def record_artifact(
    session: Session, key: str, *, kind: str, path: str, sha256: str, meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Store (or replace) the artifact ``key``, e.g. a trained victim's checkpoint file.

    Returns it as :func:`get_artifact` does.
    """
    values = {"key": key, "kind": kind, "path": str(path), "sha256": sha256, "meta": _clean(meta or {})}
    _insert_if_missing(session, Artifact.__table__, values, "key")
    artifact = session.scalars(
        select(Artifact).where(Artifact.key == key).with_for_update().execution_options(populate_existing=True)
    ).one()
    for name, value in values.items():
        setattr(artifact, name, value)
    session.flush()
    return _artifact_dict(artifact)


def get_artifact(session: Session, key: str) -> dict[str, Any] | None:
    """Return the artifact ``key`` as a plain dict (key, kind, path, sha256, meta, created_at), or ``None``.

    A dict, not a row, because callers use it after the transaction has ended.
    """
    artifact = session.get(Artifact, key)
    return None if artifact is None else _artifact_dict(artifact)


# -- export ------------------------------------------------------------------------------


def export_rows(
    session: Session, *, benchmark: str | None = None, status: str | Iterable[str] | None = None
) -> list[dict[str, Any]]:
    """Return one flat dict per cell: :data:`EXPORT_COLUMNS`, then one column per metric.

    Metric columns come from the ``Metric`` rows (absent or non-finite: ``None``);
    a metric named like a leading column is exported as ``metric:<name>``.
    """
    cells = list_cells(session, benchmark=benchmark, status=status)
    values: dict[int, dict[str, float]] = {}
    if cells:
        ids = [c.id for c in cells]
        for metric in session.scalars(select(Metric).where(Metric.cell_id.in_(ids))):
            values.setdefault(metric.cell_id, {})[metric.name] = metric.value
    names = sorted({name for per_cell in values.values() for name in per_cell})
    columns = {name: f"metric:{name}" if name in EXPORT_COLUMNS else name for name in names}
    rows = []
    for cell in cells:
        row: dict[str, Any] = {col: getattr(cell, col) for col in EXPORT_COLUMNS}
        per_cell = values.get(cell.id, {})
        row.update({columns[name]: per_cell.get(name) for name in names})
        rows.append(row)
    return rows


def export(
    session: Session,
    format: Literal["csv", "json"] = "csv",
    *,
    benchmark: str | None = None,
    status: str | Iterable[str] | None = None,
) -> str:
    """Return :func:`export_rows` as CSV (header row, empty cell for a missing metric) or JSON."""
    rows = export_rows(session, benchmark=benchmark, status=status)
    if format == "json":
        return json.dumps(rows, indent=2)
    if format != "csv":
        raise ValueError(f"unknown export format {format!r}; expected 'csv' or 'json'")
    columns = list(EXPORT_COLUMNS) + [c for c in (rows[0] if rows else {}) if c not in EXPORT_COLUMNS]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
