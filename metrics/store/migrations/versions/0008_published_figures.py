"""publications and published_figures: frozen monthly figure sets with revisions

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-16 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

TABLES = ("publications", "published_figures")


def upgrade() -> None:
    op.create_table(
        "publications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("period", sa.Date(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=False),
        sa.Column("published_by", sa.String(length=150), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("as_of", sa.DateTime(), nullable=True),
        sa.Column("refresh_run_id", sa.Integer(), nullable=True),
        sa.Column("min_cell_size", sa.Integer(), nullable=False),
        sa.Column("figures", sa.Integer(), nullable=False),
        sa.Column("definitions", sa.Text(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period", "revision", name="uq_publications_period_revision"),
    )
    op.create_table(
        "published_figures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("publication_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=80), nullable=False),
        sa.Column("definition_version", sa.Integer(), nullable=False),
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
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("as_of", sa.DateTime(), nullable=False),
        sa.Column("refresh_run_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["publication_id"], ["publications.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("publication_id", "metric", "dim_names", "dims_key", "across",
                            name="uq_published_figures_slice"),
    )  # fmt: skip
    # What was announced must not be rewritten, not even by hand-written SQL on the product's
    # own connection: the store refuses, as it does for the audit log (0007).
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION published_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION '% is append-only: publish a new revision instead', TG_TABLE_NAME; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION published_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION published_append_only()"
            )
    else:
        for table in TABLES:
            for verb in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                    f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: publish a new revision instead'); END"
                )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in reversed(TABLES):
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_change ON {table}")
        op.execute("DROP FUNCTION published_append_only()")
    op.drop_table("published_figures")
    op.drop_table("publications")
