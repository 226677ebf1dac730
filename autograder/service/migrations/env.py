"""Alembic's environment for the course database: run by store.migrate on the connection it
passes, or by `alembic` itself with `-x url=DATABASE_URL` (docs/service.md)."""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from autograder.service.schema import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # the alembic command line
    engine = create_engine(context.get_x_argument(as_dictionary=True)["url"])
    with engine.begin() as connection:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
