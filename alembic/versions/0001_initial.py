"""Initial schema: runs, cells, metrics, trials, artifacts.

Written by hand to match ``recsec.storage.models`` exactly, including the
constraint and index names given by the models' naming convention.

Revision ID: 0001
Revises:
Create Date: 2024-11-22
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "recsec_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("benchmark", sa.String(200), nullable=False),
        sa.Column("spec_path", sa.Text(), nullable=False),
        sa.Column("spec_text", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _timestamp("started_at"),
        _timestamp("finished_at", nullable=True),
        sa.Column("recsec_version", sa.String(50), nullable=False),
        sa.Column("hardware", sa.JSON(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recsec_runs"),
    )
    op.create_index("ix_recsec_runs_benchmark", "recsec_runs", ["benchmark"])

    op.create_table(
        "recsec_cells",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("benchmark", sa.String(200), nullable=False),
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("recommender", sa.Text(), nullable=False),
        sa.Column("attack", sa.Text(), nullable=False),
        sa.Column("defense", sa.Text(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("skip_reason", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("traceback", sa.Text(), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("versions", sa.JSON(), nullable=False),
        sa.Column("hardware", sa.JSON(), nullable=False),
        sa.Column("victim_key", sa.String(64), nullable=True),
        sa.Column("n_trials", sa.Integer(), nullable=True),
        sa.Column("study_name", sa.String(200), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_recsec_cells"),
        sa.UniqueConstraint("config_hash", name="uq_recsec_cells_config_hash"),
        sa.ForeignKeyConstraint(["run_id"], ["recsec_runs.id"], name="fk_recsec_cells_run_id_recsec_runs"),
    )
    op.create_index("ix_recsec_cells_benchmark", "recsec_cells", ["benchmark"])
    op.create_index("ix_recsec_cells_status", "recsec_cells", ["status"])

    op.create_table(
        "recsec_metrics",
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("cell_id", "name", name="pk_recsec_metrics"),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["recsec_cells.id"], name="fk_recsec_metrics_cell_id_recsec_cells", ondelete="CASCADE"
        ),
    )

    op.create_table(
        "recsec_trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recsec_trials"),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["recsec_cells.id"], name="fk_recsec_trials_cell_id_recsec_cells", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_recsec_trials_cell_id", "recsec_trials", ["cell_id"])

    op.create_table(
        "recsec_artifacts",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("meta", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        sa.PrimaryKeyConstraint("key", name="pk_recsec_artifacts"),
    )


def downgrade() -> None:
    op.drop_table("recsec_artifacts")
    op.drop_index("ix_recsec_trials_cell_id", table_name="recsec_trials")
    op.drop_table("recsec_trials")
    op.drop_table("recsec_metrics")
    op.drop_index("ix_recsec_cells_status", table_name="recsec_cells")
    op.drop_index("ix_recsec_cells_benchmark", table_name="recsec_cells")
    op.drop_table("recsec_cells")
    op.drop_index("ix_recsec_runs_benchmark", table_name="recsec_runs")
    op.drop_table("recsec_runs")
