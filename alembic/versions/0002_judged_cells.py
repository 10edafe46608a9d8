"""Judged cells: diagnostics apart from judged metrics, data fingerprints, failed
recomputes kept beside results, training curves, worker leases and cell events.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recsec_cells") as batch:
        batch.add_column(sa.Column("diagnostics", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("data_fingerprint", sa.String(64), nullable=True))
        batch.add_column(sa.Column("last_failure", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("curves", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("worker", sa.String(200), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("computations", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "recsec_cell_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("cell_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("worker", sa.String(200), nullable=True),
        sa.Column("event", sa.String(20), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recsec_cell_events"),
        sa.ForeignKeyConstraint(
            ["cell_id"], ["recsec_cells.id"], name="fk_recsec_cell_events_cell_id_recsec_cells", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["run_id"], ["recsec_runs.id"], name="fk_recsec_cell_events_run_id_recsec_runs"),
    )
    op.create_index("ix_recsec_cell_events_cell_id", "recsec_cell_events", ["cell_id"])


def downgrade() -> None:
    op.drop_index("ix_recsec_cell_events_cell_id", table_name="recsec_cell_events")
    op.drop_table("recsec_cell_events")
    with op.batch_alter_table("recsec_cells") as batch:
        for name in ("computations", "lease_expires_at", "worker", "curves", "last_failure", "data_fingerprint", "diagnostics"):
            batch.drop_column(name)
