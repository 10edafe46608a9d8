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

import traceback as tb
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from recsec.storage.models import Cell, CellEvent, Metric, Run, Trial, utcnow
from recsec.storage.rows import _clean, _finite_or_none, _insert_if_missing

__all__ = [
    "CELL_STATUSES",
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
    "add_event",
    "record_artifact",
    "get_artifact",
    "list_cells",
    "export_rows",
    "export",
]

CELL_STATUSES = ("pending", "running", "done", "failed", "skipped")


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
    #: ``Dataset.fingerprint`` of the data the cell runs on (also inside ``config``).
    data_fingerprint: str | None = None


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
        "data_fingerprint": ident.data_fingerprint,
        "status": "pending",
        "run_id": run_id,
    }
    _insert_if_missing(session, Cell.__table__, values, "config_hash")
    cell = session.scalars(
        select(Cell).where(Cell.config_hash == ident.config_hash).with_for_update().execution_options(populate_existing=True)
    ).one()
    for name, value in values.items():
        if name != "status" and (name not in ("run_id", "data_fingerprint") or value is not None):
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


def _set_fingerprint(cell: Cell, fingerprint: str | None) -> None:
    if fingerprint is not None:
        cell.data_fingerprint = fingerprint


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
    worker: str | None = None,
) -> int:
    """Record the start of a ``recsec run`` invocation by ``worker`` and return the new run's id."""
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
        worker=worker,
        heartbeat_at=utcnow(),
    )
    session.add(run)
    session.flush()
    return run.id


def finish_run(session: Session, run_id: int, status: str = "finished") -> Run:
    """Mark run ``run_id`` as ended with ``status`` (``finished``, ``interrupted`` or ``died``)."""
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
    diagnostics: Mapping[str, Any] | None = None,
    curves: Mapping[str, Any] | None = None,
    data_fingerprint: str | None = None,
) -> Cell:
    """Store a finished cell: its judged metrics (JSON and one ``Metric`` row each), the
    components' own diagnostics (apart from the metrics), curves and details.

    ``trials``, when given, replace the cell's stored trials. ``data_fingerprint``, when
    given, records the data the result came from (a ``CellIdentity`` may carry it instead).
    """
    cell = _cell_for(session, ident, run_id)
    _set_fingerprint(cell, data_fingerprint)
    cell.status = "done"
    cell.skip_reason = cell.error = cell.traceback = None
    cell.last_failure = None
    cell.deaths = 0
    cell.diagnostics = _clean(diagnostics or {})
    cell.curves = _clean(curves or {})
    cell.computations = (cell.computations or 0) + 1
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
    keep_result: bool = False,
    data_fingerprint: str | None = None,
) -> Cell:
    """Store a failed cell. Given an exception and no ``traceback``, its traceback is formatted.

    Old metrics of the cell are removed: they no longer describe its latest outcome.
    ``status="pending"`` records an interrupted cell, to be run again next time.
    ``keep_result``: a recompute (``--force``) of a finished cell failed; the stored
    result stays as it was and the failure is recorded beside it (``last_failure``).
    """
    if isinstance(error, BaseException):
        if traceback is None:
            traceback = "".join(tb.format_exception(error))
        message = f"{type(error).__name__}: {error}"
    else:
        message = str(error)
    cell = _cell_for(session, ident, run_id)
    if status == "failed":  # the process lived to record an outcome (``claims`` counts deaths)
        cell.deaths = 0
    if keep_result and cell.metrics:  # the stored result stands, also when the recompute was interrupted
        cell.status = "done"
        if status == "failed":
            cell.computations = (cell.computations or 0) + 1
            cell.last_failure = {"error": message, "traceback": traceback, "at": utcnow().isoformat(), "run_id": run_id}
        session.flush()
        return cell
    _set_fingerprint(cell, data_fingerprint)
    cell.status = status
    cell.error = message
    cell.traceback = traceback
    cell.skip_reason = None
    if status == "failed":
        cell.computations = (cell.computations or 0) + 1
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
    cell.deaths = 0
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


def add_event(session: Session, cell: CellRef | Cell, event: str, *, run_id: int | None = None,
              worker: str | None = None, detail: str | None = None) -> None:
    """Append one step (claimed, done, failed, skipped, interrupted, lost...) to a cell's history."""
    row = _cell_for(session, cell, None)
    session.add(CellEvent(cell_id=row.id, run_id=run_id, worker=worker, event=event, detail=detail))
    session.flush()


# Artifacts (checkpoints) and exports live in their own modules; they are part of this API.
from recsec.storage.artifacts import get_artifact, record_artifact  # noqa: E402
from recsec.storage.export import export, export_rows  # noqa: E402
