"""published take-up rates

Some publishers give take-up only as a rate (the US IRS for the EITC by state): the eligible
table keeps that rate and its range, and a row may then have no count of eligible people.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 21:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("eligible_populations", schema=None) as batch_op:
        batch_op.alter_column("eligible", existing_type=sa.BigInteger(), nullable=True)
        batch_op.add_column(sa.Column("rate", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("rate_low", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("rate_high", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("eligible_populations", schema=None) as batch_op:
        batch_op.drop_column("rate_high")
        batch_op.drop_column("rate_low")
        batch_op.drop_column("rate")
        batch_op.alter_column("eligible", existing_type=sa.BigInteger(), nullable=False)
