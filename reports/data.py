"""Plain, detached records of what the report shows, read from a Session or given as dicts.

The renderer never touches the ORM beyond :func:`load_session`, so it works on a
``Session`` from any ``Storage`` and on hand-built rows (tests, exports).
Everything in these records except ids, numbers and dates is untrusted text
that comes from plugins: the templates escape it, and no file name derives from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

__all__ = ["TrialRow", "RunRow", "CellRow", "ReportData", "load_session", "from_rows", "load"]


@dataclass
class TrialRow:
    """One Optuna trial of a tuned cell."""

    number: int
    state: str
    value: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.state.upper() == "COMPLETE" and _finite(self.value)


@dataclass
class RunRow:
    """One ``recsec run`` invocation (provenance of the cells it wrote)."""

    id: int
    benchmark: str = ""
    status: str = ""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    recsec_version: str = ""
    hardware: dict[str, Any] = field(default_factory=dict)
    spec_path: str = ""


@dataclass
class CellRow:
    """One stored cell: dataset x recommender x attack x defense x seed."""

    id: int
    benchmark: str
    dataset: str
    recommender: str
    attack: str
    defense: str
    seed: int
    status: str
    config_hash: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    skip_reason: str | None = None
    error: str | None = None
    traceback: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    hardware: dict[str, Any] = field(default_factory=dict)
    n_trials: int | None = None
    study_name: str | None = None
    run_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    trials: list[TrialRow] = field(default_factory=list)
    run: RunRow | None = None

    @property
    def tuned(self) -> bool:
        return bool(self.trials) or bool(self.n_trials)

    @property
    def trial_count(self) -> int:
        return len(self.trials) if self.trials else int(self.n_trials or 0)

    @property
    def primary_metric(self) -> str:
        value = self.config.get("primary_metric")
        return value if isinstance(value, str) else ""

    def tune_maximize(self) -> bool:
        """Direction of the Optuna study: ``config["tune"]["direction"]``, else maximise."""
        tune = self.config.get("tune")
        if isinstance(tune, Mapping):
            direction = tune.get("direction")
            if isinstance(direction, str):
                return direction.lower() != "minimize"
            if isinstance(tune.get("maximize"), bool):
                return bool(tune["maximize"])
        direction = self.config.get("direction")
        if isinstance(direction, str):
            return direction.lower() != "minimize"
        return True

    def best_trial(self) -> TrialRow | None:
        """The best complete trial.

        The runner records its number as the ``tune.best_trial`` metric; without
        it, the best value in the study's direction wins (ties: the earliest).
        """
        done = [t for t in self.trials if t.complete]
        recorded = self.metrics.get("tune.best_trial")
        if _finite(recorded):
            for t in done:
                if t.number == int(recorded):  # type: ignore[arg-type]
                    return t
        if not done:
            return None
        sign = 1.0 if self.tune_maximize() else -1.0
        return max(done, key=lambda t: (sign * float(t.value), -t.number))  # type: ignore[arg-type]

    def effective_metrics(self) -> dict[str, float]:
        """The metrics the leaderboard shows: the cell's, overridden by its best trial's when tuned."""
        merged = dict(self.metrics)
        best = self.best_trial()
        if best is not None:
            merged.update(best.metrics)
        return merged


@dataclass
class ReportData:
    cells: list[CellRow]
    runs: dict[int, RunRow]


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _dict(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, Mapping) else {}


def _str(value: Any, default: str = "") -> str:
    return default if value is None else str(value)


def _opt_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _trial(row: Mapping[str, Any]) -> TrialRow:
    value = row.get("value")
    return TrialRow(
        number=int(row.get("number", 0)),
        state=_str(row.get("state"), "UNKNOWN"),
        value=float(value) if _finite(value) else None,
        params=_dict(row.get("params")),
        metrics=_dict(row.get("metrics")),
    )


def _run(row: Mapping[str, Any]) -> RunRow:
    return RunRow(
        id=int(row["id"]),
        benchmark=_str(row.get("benchmark")),
        status=_str(row.get("status")),
        started_at=row.get("started_at"),
        finished_at=row.get("finished_at"),
        recsec_version=_str(row.get("recsec_version")),
        hardware=_dict(row.get("hardware")),
        spec_path=_str(row.get("spec_path")),
    )


def _cell(row: Mapping[str, Any], runs: Mapping[int, RunRow]) -> CellRow:
    run_id = _opt_int(row.get("run_id"))
    run = row.get("run")
    return CellRow(
        id=int(row["id"]),
        benchmark=_str(row.get("benchmark")),
        dataset=_str(row.get("dataset")),
        recommender=_str(row.get("recommender")),
        attack=_str(row.get("attack")),
        defense=_str(row.get("defense")),
        seed=int(row.get("seed", 0)),
        status=_str(row.get("status"), "pending"),
        config_hash=_str(row.get("config_hash")),
        config=_dict(row.get("config")),
        skip_reason=row.get("skip_reason"),
        error=row.get("error"),
        traceback=row.get("traceback"),
        metrics=_dict(row.get("metrics")),
        timings=_dict(row.get("timings")),
        versions=_dict(row.get("versions")),
        hardware=_dict(row.get("hardware")),
        n_trials=_opt_int(row.get("n_trials")),
        study_name=row.get("study_name"),
        run_id=run_id,
        created_at=row.get("created_at"),
        updated_at=row.get("updated_at"),
        trials=sorted((_trial(t) for t in row.get("trials") or ()), key=lambda t: t.number),
        run=_run(run) if isinstance(run, Mapping) else (runs.get(run_id) if run_id is not None else None),
    )


def from_rows(rows: Iterable[Mapping[str, Any]], runs: Iterable[Mapping[str, Any]] = ()) -> ReportData:
    """Build report data from plain dicts.

    Each cell dict has the ``Cell`` column names as keys (``id``, ``benchmark``,
    ``dataset``, ``recommender``, ``attack``, ``defense``, ``seed``, ``status``,
    ``config``, ``metrics``, ...), optionally ``trials`` (dicts with ``Trial``'s
    columns) and ``run`` (a dict with ``Run``'s columns).
    """
    run_rows = {r.id: r for r in (_run(r) for r in runs)}
    cells = [_cell(r, run_rows) for r in rows]
    for c in cells:
        if c.run is not None:
            run_rows.setdefault(c.run.id, c.run)
    return ReportData(cells=cells, runs=run_rows)


def _columns(obj: Any) -> dict[str, Any]:
    return {col.key: getattr(obj, col.key) for col in obj.__mapper__.column_attrs}


def load_session(session: Any) -> ReportData:
    """Read every run, cell and trial through a SQLAlchemy ``Session``.

    ``Metric`` rows fill in metrics missing from a cell's ``metrics`` JSON.
    """
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from recsec.storage.models import Cell, Run

    runs = [_columns(r) for r in session.scalars(select(Run).order_by(Run.id))]
    stmt = select(Cell).options(selectinload(Cell.trials), selectinload(Cell.metric_rows)).order_by(Cell.id)
    rows: list[dict[str, Any]] = []
    for cell in session.scalars(stmt):
        row = _columns(cell)
        metrics = {m.name: m.value for m in cell.metric_rows}
        metrics.update(_dict(row.get("metrics")))
        row["metrics"] = metrics
        row["trials"] = [_columns(t) for t in cell.trials]
        rows.append(row)
    return from_rows(rows, runs)


def load(source: Any) -> ReportData:
    """Accept a ``Session``, a ``ReportData``, or an iterable of cell dicts."""
    if isinstance(source, ReportData):
        return source
    if hasattr(source, "scalars") and hasattr(source, "execute"):
        return load_session(source)
    if isinstance(source, Mapping):
        return from_rows(source.get("cells", ()), source.get("runs", ()))
    return from_rows(source)
