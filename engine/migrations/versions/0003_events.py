"""events: timers and message/signal subscriptions

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.db.base

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "timers",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column(
            "scope",
            sa.Enum("start", "catch", name="timer_scope", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("definition_id", sa.String(length=255), nullable=False),
        sa.Column("process_key", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column("due_at", engine.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("schedule", sa.JSON(), nullable=True),
        sa.Column("created_at", engine.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("locked_by", sa.String(length=255), nullable=True),
        sa.Column("locked_until", engine.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_timers_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timers")),
        sa.UniqueConstraint("task_id", name=op.f("uq_timers_task_id")),
    )
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.create_index("ix_timers_due", ["due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_timers_definition_id"), ["definition_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_timers_instance_id"), ["instance_id"], unique=False)

    op.create_table(
        "event_subscriptions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("message", "signal", name="subscription_kind", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("definition_id", sa.String(length=255), nullable=False),
        sa.Column("process_key", sa.String(length=255), nullable=False),
        sa.Column("instance_id", sa.String(length=64), nullable=True),
        sa.Column("business_key", sa.String(length=255), nullable=True),
        sa.Column("task_id", sa.String(length=64), nullable=True),
        sa.Column("activity_id", sa.String(length=255), nullable=False),
        sa.Column("created_at", engine.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["instance_id"],
            ["process_instances.id"],
            name=op.f("fk_event_subscriptions_instance_id_process_instances"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_subscriptions")),
        sa.UniqueConstraint("task_id", name=op.f("uq_event_subscriptions_task_id")),
    )
    with op.batch_alter_table("event_subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_event_subscriptions_lookup", ["kind", "name", "business_key"], unique=False)
        batch_op.create_index("ix_event_subscriptions_instance", ["instance_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_subscriptions", schema=None) as batch_op:
        batch_op.drop_index("ix_event_subscriptions_instance")
        batch_op.drop_index("ix_event_subscriptions_lookup")
    op.drop_table("event_subscriptions")
    with op.batch_alter_table("timers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timers_instance_id"))
        batch_op.drop_index(batch_op.f("ix_timers_definition_id"))
        batch_op.drop_index("ix_timers_due")
    op.drop_table("timers")
