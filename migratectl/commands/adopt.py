"""``adopt``: bring an existing, populated database under migrations in one step.

1. Refuse a database that already has a version (use ``upgrade``) and a repository that
   already has revisions.
2. Compare the real database with the models, read-only: any difference ends it here, with
   nothing written (no revision file, no version table), so the user fixes models or schema
   first.
3. Write the initial revision by autogenerating against an empty scratch database of the same
   dialect (so it creates every table the models hold).
4. Stamp the real database at that revision. Its rows are never touched.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from migratectl.commands.inspection import show
from migratectl.commands.revisions import migrate
from migratectl.commands.versioning import stamp
from migratectl.database.engines import run_with_connections
from migratectl.database.scratch import require_single_database, scratch_databases, user_objects
from migratectl.errors import UsageError
from migratectl.output import Output, mask_url
from migratectl.repository.comparison import compare, describe_operations, schema_differences
from migratectl.repository.config import (
    build_config,
    in_project,
    is_multidb,
    require_repository,
    script_directory,
)
from migratectl.repository.state import database_urls, read_all_heads
from migratectl.repository.translation import translate_errors
from migratectl.settings import Settings


@dataclass
class AdoptResult:
    database: str
    revision: str | None = None
    path: Path | None = None
    differences: list[str] = field(default_factory=list)
    empty: bool = False  # the database has no table at all (nothing to adopt)

    @property
    def adopted(self) -> bool:
        return self.revision is not None


@in_project
def adopt(
    settings: Settings,
    *,
    message: str = "initial",
    scratch_url: str | dict[str, str] | None = None,
    output: Output | None = None,
) -> AdoptResult:
    """Write the initial revision and stamp the database, only if it matches the models.

    A multi-database repository's databases are each compared with their own models; the
    revision holds every database's ``upgrade_<name>()``, and the databases are stamped only
    when every one of them matches.
    """
    output = output or Output()
    require_repository(settings)
    url = settings.require_database_url()
    multidb = is_multidb(settings)
    if not multidb:
        require_single_database(settings)
    settings.require_models()
    database = mask_url(url)
    explicit = scratch_url if isinstance(scratch_url, dict) else {"": scratch_url}
    explicit = {name: value for name, value in explicit.items() if value}

    with translate_errors(settings):
        stamped = {name: revs for name, revs in read_all_heads(settings).items() if revs}
        if stamped:
            where = "".join(
                f" {database_name(name)} at {', '.join(revs)};" for name, revs in stamped.items()
            )
            raise UsageError(
                f"The database is already under migrations ({where.strip(' ;')}).",
                hint="Use `migratectl upgrade` to bring it to head.",
            )
        heads = list(script_directory(build_config(settings, output)).get_heads())
    if heads:
        raise UsageError(
            f"The repository already has revisions (head: {', '.join(heads)}), and adopt "
            "writes the first one.",
            hint="If the database matches them, `migratectl stamp REVISION` marks it; "
            "otherwise adopt into an empty repository.",
        )

    differences = _differences(settings, output, multidb)
    if differences:
        version_table = settings.configure.get("version_table", "alembic_version")
        found = run_with_connections(
            database_urls(settings),
            lambda connections: [
                obj
                for connection in connections.values()
                for obj in user_objects(connection, version_table)
            ],
            readonly=True,
        )
        return AdoptResult(database, differences=differences, empty=not found)

    with scratch_databases(settings, explicit, output=output, binds=multidb) as scratch:
        quiet = Output(quiet=True, verbose=output.verbose)
        quiet.secrets = output.secrets
        twins = replace(
            settings,
            database_url=scratch[""],
            binds={
                name: replace(bind, database_url=scratch[name])
                for name, bind in settings.binds.items()
            },
        )
        paths = migrate(twins, message=message, output=quiet)
    if not paths:
        raise UsageError(
            "The models hold no tables, so there is nothing to adopt.",
            hint="Check the models setting.",
        )
    try:
        revision = show(settings, "head")[0].revision
        stamp(settings, [revision], output=output)
    except BaseException:
        for path in paths:  # leave the repository as it was: nothing half-adopted
            path.unlink(missing_ok=True)
        raise
    return AdoptResult(database, revision=revision, path=paths[0])


def _differences(settings: Settings, output: Output, multidb: bool) -> list[str]:
    """The models against the real database(s), read-only; each line names its database
    in a multi-database repository."""
    if not multidb:
        return schema_differences(settings, output)
    names = list(database_urls(settings))
    found: list[str] = []
    for name, ops in zip(names, compare(settings, output), strict=False):
        found.extend(f"{database_name(name)}: {line}" for line in describe_operations(ops))
    return found


def database_name(name: str) -> str:
    return f"database {name!r}" if name else "the default database"
