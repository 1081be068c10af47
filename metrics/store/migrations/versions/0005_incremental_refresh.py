"""case changes for incremental refresh

The ETL lists each case it writes, with the version it replaced, so that a metric refresh
recomputes only the periods those cases touched; refresh runs say whether they were full or
incremental and what they rested on.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28 00:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "case_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("etl_run_id", sa.Integer(), nullable=False),
        sa.Column("case_key", sa.String(length=200), nullable=True),
        sa.Column("old_opened_at", sa.DateTime(), nullable=True),
        sa.Column("old_closed_at", sa.DateTime(), nullable=True),
        sa.Column("old_first_response_at", sa.DateTime(), nullable=True),
        sa.Column("old_service", sa.String(length=150), nullable=True),
        sa.Column("old_citizen_key", sa.String(length=128), nullable=True),
        sa.Column("old_slice", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("refresh_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mode", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("basis", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("periods", sa.Integer(), nullable=True))
    op.create_index("ix_cases_citizen_key", "cases", ["citizen_key"])


def downgrade() -> None:
    op.drop_index("ix_cases_citizen_key", table_name="cases")
    with op.batch_alter_table("refresh_runs", schema=None) as batch_op:
        batch_op.drop_column("periods")
        batch_op.drop_column("basis")
        batch_op.drop_column("mode")
    op.drop_table("case_changes")
