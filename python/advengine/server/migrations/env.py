"""Alembic environment: migrations run on the connection :func:`advengine.server.migrate.upgrade`
hands over (the server's own engine), never from an alembic.ini."""

from __future__ import annotations

from alembic import context

from advengine.server.db import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
