"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 18:54:11.336566
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "cases",
        sa.Column("case_key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("source_id", sa.String(length=150), nullable=False),
        sa.Column("service", sa.String(length=150), nullable=False),
        sa.Column("department", sa.String(length=150), nullable=False),
        sa.Column("channel", sa.String(length=60), nullable=False),
        sa.Column("region", sa.String(length=150), nullable=False),
        sa.Column("opened_at", sa.DateTime(), nullable=False),
        sa.Column("first_response_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("due_at", sa.DateTime(), nullable=True),
        sa.Column("outcome", sa.String(length=40), nullable=True),
        sa.Column("citizen_key", sa.String(length=128), nullable=True),
        sa.Column("handoffs", sa.Integer(), nullable=False),
        sa.Column("reopened", sa.Integer(), nullable=False),
        sa.Column("rating", sa.SmallInteger(), nullable=True),
        sa.Column("row_hash", sa.String(length=32), nullable=False),
        sa.Column("etl_run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("case_key"),
    )
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.create_index("ix_cases_opened_at", ["opened_at"], unique=False)
        batch_op.create_index("ix_cases_source", ["source"], unique=False)

    op.create_table(
        "eligible_populations",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("programme", sa.String(length=150), nullable=False),
        sa.Column("region", sa.String(length=150), nullable=False),
        sa.Column("attribute", sa.String(length=60), nullable=False),
        sa.Column("group_value", sa.String(length=150), nullable=False),
        sa.Column("eligible", sa.BigInteger(), nullable=False),
        sa.Column("eligible_low", sa.BigInteger(), nullable=True),
        sa.Column("eligible_high", sa.BigInteger(), nullable=True),
        sa.Column("recipients", sa.BigInteger(), nullable=True),
        sa.Column("etl_run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", "programme", "region", "attribute", "group_value"),
    )
    op.create_table(
        "etl_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("file", sa.String(length=500), nullable=True),
        sa.Column("file_sha256", sa.String(length=64), nullable=True),
        sa.Column("rows_read", sa.BigInteger(), nullable=False),
        sa.Column("rows_loaded", sa.BigInteger(), nullable=False),
        sa.Column("rows_new", sa.BigInteger(), nullable=False),
        sa.Column("rows_changed", sa.BigInteger(), nullable=False),
        sa.Column("rows_quarantined", sa.BigInteger(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "metric_cells",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
        sa.Column("grain", sa.String(length=10), nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("dim_names", sa.String(length=200), nullable=False),
        sa.Column("dims_key", sa.String(length=500), nullable=False),
        sa.Column("across", sa.String(length=60), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("n", sa.BigInteger(), nullable=True),
        sa.Column("numerator", sa.Float(), nullable=True),
        sa.Column("denominator", sa.Float(), nullable=True),
        sa.Column("ci_low", sa.Float(), nullable=True),
        sa.Column("ci_high", sa.Float(), nullable=True),
        sa.Column("suppressed", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("refresh_run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "metric",
            "definition_version",
            "grain",
            "period",
            "dim_names",
            "dims_key",
            "across",
            name="uq_metric_cells_slice",
        ),
    )
    with op.batch_alter_table("metric_cells", schema=None) as batch_op:
        batch_op.create_index("ix_metric_cells_read", ["metric", "grain", "dim_names", "period"], unique=False)

    op.create_table(
        "populations",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("region", sa.String(length=150), nullable=False),
        sa.Column("attribute", sa.String(length=60), nullable=False),
        sa.Column("group_value", sa.String(length=150), nullable=False),
        sa.Column("population", sa.BigInteger(), nullable=False),
        sa.Column("etl_run_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("year", "region", "attribute", "group_value"),
    )
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("etl_run_id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(length=100), nullable=False),
        sa.Column("row_number", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quarantine_etl_run_id"), ["etl_run_id"], unique=False)

    op.create_table(
        "refresh_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("as_of", sa.DateTime(), nullable=True),
        sa.Column("cases", sa.BigInteger(), nullable=False),
        sa.Column("cells", sa.BigInteger(), nullable=False),
        sa.Column("last_etl_run_id", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "case_groups",
        sa.Column("case_key", sa.String(length=200), nullable=False),
        sa.Column("attribute", sa.String(length=60), nullable=False),
        sa.Column("value", sa.String(length=150), nullable=False),
        sa.ForeignKeyConstraint(["case_key"], ["cases.case_key"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("case_key", "attribute"),
    )


def downgrade() -> None:

    op.drop_table("case_groups")
    op.drop_table("refresh_runs")
    with op.batch_alter_table("quarantine", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quarantine_etl_run_id"))

    op.drop_table("quarantine")
    op.drop_table("populations")
    with op.batch_alter_table("metric_cells", schema=None) as batch_op:
        batch_op.drop_index("ix_metric_cells_read")

    op.drop_table("metric_cells")
    op.drop_table("etl_runs")
    op.drop_table("eligible_populations")
    with op.batch_alter_table("cases", schema=None) as batch_op:
        batch_op.drop_index("ix_cases_source")
        batch_op.drop_index("ix_cases_opened_at")

    op.drop_table("cases")
