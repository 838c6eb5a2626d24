"""The first schema: teams, submissions, rounds.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(32), nullable=False, unique=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "submissions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("team_id", sa.Integer, sa.ForeignKey("teams.id"), nullable=False, index=True),
        sa.Column("round", sa.String(64), nullable=False, index=True),
        sa.Column("track", sa.String(16), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("blob", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, index=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("pieces_done", sa.Integer, nullable=False),
        sa.Column("pieces_total", sa.Integer, nullable=False),
        sa.Column("charged", sa.Boolean, nullable=False),
        sa.Column("replaced", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False, index=True),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "rounds",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("dirty", sa.Boolean, nullable=False),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("heartbeat_at", sa.DateTime, nullable=True),
        sa.Column("scored_at", sa.DateTime, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("submissions")
    op.drop_table("rounds")
    op.drop_table("teams")
