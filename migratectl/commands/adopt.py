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
from migratectl.database.engines import run_with_connection
from migratectl.database.scratch import require_single_database, scratch_database, user_objects
from migratectl.errors import UsageError
from migratectl.output import Output, mask_url
from migratectl.repository.comparison import schema_differences
from migratectl.repository.config import (
    build_config,
    in_project,
    require_repository,
    resolve_settings,
    script_directory,
)
from migratectl.repository.state import read_database_heads
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


def adopt_database(
    settings: Settings,
    *,
    message: str = "initial",
    scratch_url: str | None = None,
    output: Output | None = None,
) -> AdoptResult:
    """Write the initial revision and stamp the database, only if it matches the models."""
    output = output or Output()
    require_repository(settings)
    url = settings.require_database_url()
    require_single_database(settings)
    settings.require_models()
    database = mask_url(url)

    with translate_errors(settings):
        stamped = read_database_heads(settings)
        if stamped:
            raise UsageError(
                f"The database is already under migrations (at {', '.join(stamped)}).",
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

    differences = schema_differences(settings, output)
    if differences:
        version_table = settings.configure.get("version_table", "alembic_version")
        found = run_with_connection(
            url, lambda connection: user_objects(connection, version_table), readonly=True
        )
        return AdoptResult(database, differences=differences, empty=not found)

    with scratch_database(settings, scratch_url=scratch_url, output=output) as scratch:
        quiet = Output(quiet=True, verbose=output.verbose)
        quiet.secrets = output.secrets
        paths = migrate(replace(settings, database_url=scratch), message=message, output=quiet)
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


@in_project
def adopt(
    settings: Settings | None = None,
    *,
    message: str = "initial",
    scratch_url: str | None = None,
    output: Output | None = None,
) -> AdoptResult:
    """Bring an existing, populated database under migrations: write the initial revision and
    stamp the database, only when it matches the models (otherwise list the differences)."""
    return adopt_database(
        resolve_settings(settings), message=message, scratch_url=scratch_url, output=output
    )
