"""Alembic environment of this multi-database migration repository, run by migratectl.

The default database comes from database_url / models in migratectl.toml, each other one
from a [binds.NAME] table. Every revision script holds an upgrade_<name>() and a
downgrade_<name>() function per database (the default database's name is empty, as in
Flask-Migrate). Keyword arguments given here go to Alembic's context.configure() for every
database and win over migratectl.toml.

A Connection or Engine handed in as config.attributes["connection"] is used for the default
database (Alembic's "sharing a connection" recipe).
"""

from alembic import context

from migratectl.runtime import run_multidb_migrations

run_multidb_migrations(context)
