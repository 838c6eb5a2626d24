"""Test rounds (mode = "uploads"): a round's attack phase can be closed, and its released images
have opaque ids.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    with op.batch_alter_table("rounds") as batch:
        batch.add_column(sa.Column("attack_closed", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "released",
        sa.Column("opaque_id", sa.String(32), primary_key=True),
        sa.Column("round", sa.String(64), nullable=False, index=True),
        sa.Column("image_key", sa.String(32), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("released")
    with op.batch_alter_table("rounds") as batch:
        batch.drop_column("attack_closed")
