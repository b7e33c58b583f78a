"""Alembic environment of this migration repository, run by migratectl.

migratectl builds the Alembic configuration from migratectl.toml (database_url, models,
[configure], ...), so nothing needs to be set here. To customise a run, pass keyword
arguments for Alembic's context.configure(); they win over migratectl.toml, e.g.:

    def include_object(obj, name, type_, reflected, compare_to):
        return not (type_ == "table" and name.startswith("tmp_"))

    run_migrations(context, include_object=include_object)

A Connection or Engine handed in as config.attributes["connection"] is used as it is
(Alembic's "sharing a connection" recipe; pytest-alembic does this).
"""

from alembic import context

from migratectl.runtime import run_migrations

run_migrations(context)
