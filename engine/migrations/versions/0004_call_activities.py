"""call activities: parent and child instances, definition version tags, job payloads

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 09:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("process_instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("super_instance_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("super_task_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("root_instance_id", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_process_instances_super_instance_id", ["super_instance_id"], unique=False)
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("version_tag", sa.String(length=255), nullable=True))
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("payload")
    with op.batch_alter_table("process_definitions", schema=None) as batch_op:
        batch_op.drop_column("version_tag")
    with op.batch_alter_table("process_instances", schema=None) as batch_op:
        batch_op.drop_index("ix_process_instances_super_instance_id")
        batch_op.drop_column("root_instance_id")
        batch_op.drop_column("super_task_id")
        batch_op.drop_column("super_instance_id")
