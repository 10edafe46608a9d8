"""Process deaths: a count of the processes that died computing each cell, and the owner
and last heartbeat of each run (a run whose owner stopped beating is marked ``died``).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("recsec_cells") as batch:
        batch.add_column(sa.Column("deaths", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("recsec_runs") as batch:
        batch.add_column(sa.Column("worker", sa.String(200), nullable=True))
        batch.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recsec_runs") as batch:
        batch.drop_column("heartbeat_at")
        batch.drop_column("worker")
    with op.batch_alter_table("recsec_cells") as batch:
        batch.drop_column("deaths")
