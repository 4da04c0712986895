"""Alembic environment: runs on the connection Linli hands over (see bridge/store/database.py)."""

from alembic import context

from bridge.store.models import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
