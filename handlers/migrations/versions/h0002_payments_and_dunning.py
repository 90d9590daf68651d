"""payments and dunning

Revision ID: h0002
Revises: h0001
Create Date: 2026-12-01 07:15:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import engine.db.base
import handlers.types

revision = "h0002"
down_revision = "h0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Server defaults so that invoices posted before this migration read as unpaid, never dunned.
    with op.batch_alter_table("erp_invoices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("amount_paid", handlers.types.ExactDecimal(18, 4), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("payment_state", sa.String(length=16), nullable=False, server_default="not_paid")
        )
        batch_op.add_column(sa.Column("dunning_level", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_dunned_on", sa.Date(), nullable=True))
    op.create_table(
        "erp_payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("amount", handlers.types.ExactDecimal(18, 4), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("created_at", engine.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["erp_invoices.id"], name=op.f("fk_erp_payments_invoice_id_erp_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_payments")),
    )
    with op.batch_alter_table("erp_payments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erp_payments_invoice_id"), ["invoice_id"], unique=False)
    op.create_table(
        "erp_dunning_letters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("amount_due", handlers.types.ExactDecimal(18, 4), nullable=False),
        sa.Column("created_at", engine.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", engine.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["erp_invoices.id"], name=op.f("fk_erp_dunning_letters_invoice_id_erp_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erp_dunning_letters")),
        sa.UniqueConstraint("invoice_id", "level", name=op.f("uq_erp_dunning_letters_invoice_id")),
    )
    with op.batch_alter_table("erp_dunning_letters", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_erp_dunning_letters_invoice_id"), ["invoice_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("erp_dunning_letters", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erp_dunning_letters_invoice_id"))
    op.drop_table("erp_dunning_letters")
    with op.batch_alter_table("erp_payments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_erp_payments_invoice_id"))
    op.drop_table("erp_payments")
    with op.batch_alter_table("erp_invoices", schema=None) as batch_op:
        batch_op.drop_column("last_dunned_on")
        batch_op.drop_column("dunning_level")
        batch_op.drop_column("payment_state")
        batch_op.drop_column("amount_paid")
