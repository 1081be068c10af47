"""targets, calendar days and annotations loaded from files

Programme offices keep targets, holiday lists (with make-up working days) and the dates of
events (a new minister, a reorganisation) in spreadsheets; these tables hold them beside
what config.yaml says.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 22:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "targets",
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("target", sa.Float(), nullable=False),
        sa.Column("threshold", sa.Float(), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("etl_run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("metric"),
    )
    op.create_table(
        "calendar_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("etl_run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "annotations",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("label_en", sa.String(length=300), nullable=False),
        sa.Column("label_zh", sa.String(length=300), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("etl_run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "label_en"),
    )


def downgrade() -> None:
    op.drop_table("annotations")
    op.drop_table("calendar_days")
    op.drop_table("targets")
