"""SQLAlchemy 2 models of recsec's results database.

Tables are prefixed ``recsec_`` and Alembic keeps its own version table
(``recsec_alembic_version``), so Optuna's tables can live in the same database.
Schema changes go through a new migration in ``alembic/versions``.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: Every constraint gets a predictable name, so later migrations can drop or alter it
#: by name (SQLite's batch mode needs named constraints). The migrations spell the
#: same names out by hand.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_name)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Run(Base):
    """One invocation of ``recsec run``."""

    __tablename__ = "recsec_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    benchmark: Mapped[str] = mapped_column(String(200), index=True)
    spec_path: Mapped[str] = mapped_column(Text, default="")
    spec_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="running")  # running | finished | interrupted | died
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    recsec_version: Mapped[str] = mapped_column(String(50), default="")
    hardware: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The process that owns the run (``claims.new_worker_id``) and its last heartbeat: a run
    #: still ``running`` whose owner stopped beating is marked ``died`` by a later run.
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Cell(Base):
    """One dataset x recommender x attack x defense x seed combination and its outcome."""

    __tablename__ = "recsec_cells"
    __table_args__ = (UniqueConstraint("config_hash", name="uq_recsec_cells_config_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    config_hash: Mapped[str] = mapped_column(String(64))
    benchmark: Mapped[str] = mapped_column(String(200), index=True)
    dataset: Mapped[str] = mapped_column(Text)
    recommender: Mapped[str] = mapped_column(Text)
    attack: Mapped[str] = mapped_column(Text)
    defense: Mapped[str] = mapped_column(Text)
    seed: Mapped[int] = mapped_column(Integer)
    #: Full identities (name, version, params) of the four components, the tuning setup, etc.
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)  # pending|running|done|failed|skipped
    skip_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    traceback: Mapped[str | None] = mapped_column(Text, nullable=True)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    timings: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    versions: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    hardware: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    victim_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    n_trials: Mapped[int | None] = mapped_column(Integer, nullable=True)
    study_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("recsec_runs.id"), nullable=True)
    #: What components report about themselves (``diag.*``), kept apart from the judged ``metrics``.
    diagnostics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    #: Content fingerprint of the dataset the cell ran on (source files and preprocessing).
    data_fingerprint: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: A failed recompute (``--force``) recorded beside the result it did not replace.
    last_failure: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    #: Training curves (victim, surrogate, ...): name -> list of per-epoch rows.
    curves: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The worker holding the cell's claim and until when (heartbeats extend it); a claim whose
    #: lease expired belongs to a dead worker and may be taken over.
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    lease_expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    #: How many times the cell was computed (claimed and run to an outcome) over its history.
    computations: Mapped[int] = mapped_column(Integer, default=0)
    #: How many processes died computing the cell since its last recorded outcome
    #: (``recsec.storage.claims``): at ``MAX_DEATHS`` it is stored failed and not retried.
    deaths: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    metric_rows: Mapped[list["Metric"]] = relationship(back_populates="cell", cascade="all, delete-orphan")
    trials: Mapped[list["Trial"]] = relationship(back_populates="cell", cascade="all, delete-orphan", order_by="Trial.number")


class CellEvent(Base):
    """One step in a cell's history: claimed, done, failed, skipped, interrupted, lost, ..."""

    __tablename__ = "recsec_cell_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("recsec_cells.id", ondelete="CASCADE"), index=True)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("recsec_runs.id"), nullable=True)
    worker: Mapped[str | None] = mapped_column(String(200), nullable=True)
    event: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Metric(Base):
    """One metric of a finished cell, as a row (for SQL sorting and CSV export)."""

    __tablename__ = "recsec_metrics"

    cell_id: Mapped[int] = mapped_column(ForeignKey("recsec_cells.id", ondelete="CASCADE"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[float] = mapped_column(Float)

    cell: Mapped[Cell] = relationship(back_populates="metric_rows")


class Trial(Base):
    """One Optuna trial of a tuned cell (mirrors the Optuna study for reports)."""

    __tablename__ = "recsec_trials"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    cell_id: Mapped[int] = mapped_column(ForeignKey("recsec_cells.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    metrics: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)

    cell: Mapped[Cell] = relationship(back_populates="trials")


class Artifact(Base):
    """A stored file (e.g. a trained victim's checkpoint), keyed by what produced it."""

    __tablename__ = "recsec_artifacts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(50))
    path: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str] = mapped_column(String(64))
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
