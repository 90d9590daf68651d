"""instance state stored a row per task

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 12:00:00

Instances stored before keep their whole state in ``process_instances.workflow`` (format 1) and are
read as they are; their next save moves the tasks to rows (engine.state_store).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "instance_task_states",
        sa.Column("instance_id", sa.String(length=64), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=36), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["process_instances.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("instance_id", "task_id"),
    )


def downgrade() -> None:
    op.drop_table("instance_task_states")
