"""The one read model of stored results: frozen records, loaded from a database in one place.

Everything that reads results goes through :func:`load`: ``recsec results``
(per-cell CSV and JSON, ``--summary``, ``--paired``), ``recsec report`` and the
Python API (``recsec.load_results`` / ``recsec.load_trials``, see
:mod:`recsec.tables`). Readers open the database read-only and never migrate
it (:func:`open_storage`). The records themselves are in :mod:`recsec.records`.

A cell's identity lives in its ``config`` JSON (what its ``config_hash`` covers)
and in the columns; the runner adds identity fields over time, so every field is
read defensively here and nowhere else. ``setup_hash`` names a cell's
configuration without its seed: cells that share it are seeds of one
experiment, and only they are ever aggregated together.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from recsec.records import KINDS, CellRecord, ComponentRecord, Results, RunRecord, TrialRecord, split_instance, to_int

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.orm import Session

    from recsec.storage.db import Storage

__all__ = [
    "KINDS",
    "ComponentRecord",
    "TrialRecord",
    "RunRecord",
    "CellRecord",
    "Results",
    "open_storage",
    "load",
    "from_rows",
    "split_instance",
]


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


# -- building records from mappings (database rows or hand-built dicts) ------------------------


def _component(kind: str, column: Any, config: Mapping[str, Any]) -> ComponentRecord:
    ident = _dict(config.get(kind))
    instance = _str(column) or _str(ident.get("name"))
    return ComponentRecord(
        kind=kind,
        instance=instance,
        name=_str(ident.get("name")) or split_instance(instance)[0],
        version=_str(ident.get("version")),
        params=_dict(ident.get("params")),
    )


def _trial(row: Mapping[str, Any]) -> TrialRecord:
    return TrialRecord(
        number=to_int(row.get("number")) or 0,
        state=_str(row.get("state"), "UNKNOWN"),
        value=_finite(row.get("value")),
        params=_dict(row.get("params")),
        metrics=_dict(row.get("metrics")),
    )


def _run(row: Mapping[str, Any]) -> RunRecord:
    return RunRecord(
        id=int(row["id"]),
        benchmark=_str(row.get("benchmark")),
        status=_str(row.get("status")),
        started_at=row.get("started_at"),
        finished_at=row.get("finished_at"),
        recsec_version=_str(row.get("recsec_version")),
        hardware=_dict(row.get("hardware")),
        spec_path=_str(row.get("spec_path")),
        spec_text=_str(row.get("spec_text")),
        options=_dict(row.get("options")),
    )


def _cell(row: Mapping[str, Any], trials: Iterable[Mapping[str, Any]], run: RunRecord | None) -> CellRecord:
    config = _dict(row.get("config"))
    tune = config.get("tune")
    metrics = {str(k): _finite(v) for k, v in _dict(row.get("metrics")).items()}
    record = CellRecord(
        id=int(row["id"]),
        config_hash=_str(row.get("config_hash")),
        setup_hash="",
        benchmark=_str(row.get("benchmark")) or _str(config.get("benchmark")),
        **{kind: _component(kind, row.get(kind), config) for kind in KINDS},
        seed=next((s for s in (to_int(row.get("seed")), to_int(config.get("seed"))) if s is not None), 0),
        k=to_int(config.get("k")),
        tune=dict(tune) if isinstance(tune, Mapping) else None,
        data_fingerprint=row.get("data_fingerprint") or config.get("data_fingerprint") or None,
        status=_str(row.get("status"), "pending"),
        skip_reason=row.get("skip_reason"),
        error=row.get("error"),
        traceback=row.get("traceback"),
        metrics=metrics,
        diagnostics=_dict(row.get("diagnostics")),
        timings=_dict(row.get("timings")),
        versions=_dict(row.get("versions")),
        hardware=_dict(row.get("hardware")),
        curves=_dict(row.get("curves")),
        last_failure=_dict(row.get("last_failure")) or None,
        n_trials=to_int(row.get("n_trials")),
        study_name=row.get("study_name"),
        victim_key=row.get("victim_key"),
        computations=to_int(row.get("computations")) or 0,
        run=run,
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
        config=config,
        trials=tuple(sorted((_trial(t) for t in trials), key=lambda t: t.number)),
    )
    # Frozen: the one derived field is set once, here.
    object.__setattr__(record, "setup_hash", record.key_without("seed"))
    return record


def _order(cell: CellRecord) -> tuple[Any, ...]:
    return (cell.benchmark, *(c.instance for c in cell.components), cell.setup_hash, cell.seed, cell.id)


def from_rows(rows: Iterable[Mapping[str, Any]], runs: Iterable[Mapping[str, Any]] = (), source: str = "") -> Results:
    """Records from plain dicts keyed like the database's columns.

    Each cell dict has ``Cell``'s column names (``id``, ``benchmark``, ``dataset``,
    ..., ``config``, ``metrics``), optionally ``trials`` (dicts with ``Trial``'s
    columns) and ``run`` (a dict with ``Run``'s columns) or a ``run_id`` among ``runs``.
    """
    by_id = {r.id: r for r in map(_run, runs)}
    cells = []
    for row in rows:
        run = row.get("run")
        record = _run(run) if isinstance(run, Mapping) else by_id.get(to_int(row.get("run_id")))  # type: ignore[arg-type]
        if record is not None:
            by_id.setdefault(record.id, record)
        cells.append(_cell(row, row.get("trials") or (), record))
    return Results(cells=tuple(sorted(cells, key=_order)), runs=by_id, source=source)


# -- reading a database ------------------------------------------------------------------------


def open_storage(db: str | None = None) -> "Storage":
    """Open ``db`` (default ``$RECSEC_DB``, else ``./recsec.db``) for reading, schema checked.

    Never creates or migrates anything: a missing SQLite file, an empty database
    or a schema behind this recsec raise a one-line ``StorageError`` that names
    ``recsec db upgrade --db URL`` where that is the cure.
    """
    from recsec.storage.db import Storage

    storage = Storage(db, readonly=True)
    try:
        return storage.check_schema()
    except BaseException:
        storage.dispose()
        raise


def load_session(session: "Session", benchmark: str | None = None) -> Results:
    """Read runs, cells (``Metric`` rows fill in metrics missing from the JSON) and trials."""
    from sqlalchemy import select

    from recsec.storage.models import Cell, Metric, Run, Trial

    cells_q = select(Cell.__table__)
    if benchmark is not None:
        cells_q = cells_q.where(Cell.benchmark == benchmark)
    ids = select(Cell.id) if benchmark is None else select(Cell.id).where(Cell.benchmark == benchmark)
    trials: dict[int, list[Mapping[str, Any]]] = {}
    for t in session.execute(select(Trial.__table__).where(Trial.cell_id.in_(ids))).mappings():
        trials.setdefault(t["cell_id"], []).append(t)
    metric_rows: dict[int, dict[str, float]] = {}
    for m in session.execute(select(Metric.__table__).where(Metric.cell_id.in_(ids))).mappings():
        metric_rows.setdefault(m["cell_id"], {})[m["name"]] = m["value"]
    runs = [dict(r) for r in session.execute(select(Run.__table__).order_by(Run.id)).mappings()]
    rows = []
    for row in session.execute(cells_q).mappings():
        merged = dict(row)
        merged["metrics"] = {**metric_rows.get(row["id"], {}), **_dict(row["metrics"])}
        merged["trials"] = trials.get(row["id"], [])
        rows.append(merged)
    from recsec.storage.db import mask_url

    return from_rows(rows, runs, source=mask_url(session.get_bind().engine.url))


def load(source: "Storage | Session | str | None" = None, benchmark: str | None = None) -> Results:
    """Every cell (of ``benchmark``, when given) with its trials and run.

    ``source``: a database URL (or None: ``$RECSEC_DB``, else ``./recsec.db``),
    opened read-only through :func:`open_storage`; a ``Storage``; or a ``Session``.
    """
    from recsec.storage.db import Storage

    if source is None or isinstance(source, str):
        storage = open_storage(source)
        try:
            return load(storage, benchmark)
        finally:
            storage.dispose()
    if isinstance(source, Storage):
        with source.transaction(readonly=True) as session:
            results = load_session(session, benchmark)
        return Results(results.cells, results.runs, source=source.display_url)
    return load_session(source, benchmark)
