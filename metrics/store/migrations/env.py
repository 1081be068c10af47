"""Alembic environment: runs on the connection civic-metrics hands it (see db.upgrade)."""

from alembic import context

from metrics.store.models import Base

target_metadata = Base.metadata
config = context.config
connection = config.attributes.get("connection")
if connection is None:  # run from the alembic command line with a URL in alembic.ini
    from sqlalchemy import create_engine

    connection = create_engine(config.get_main_option("sqlalchemy.url")).connect()

context.configure(
    connection=connection,
    target_metadata=target_metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
