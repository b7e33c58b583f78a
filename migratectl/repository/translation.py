"""Alembic's and SQLAlchemy's exceptions turned into :class:`~migratectl.errors.MigratectlError`
with the exit codes of SPEC §3 and a message that says what to do.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from migratectl.database.engines import database_error
from migratectl.errors import (
    ConfigError,
    DatabaseError,
    MigratectlError,
    UsageError,
)
from migratectl.output import display_path
from migratectl.runtime.revision_files import revision_files_error, unloadable_file_error
from migratectl.settings import Settings

if TYPE_CHECKING:
    pass


_UNKNOWN_REVISION = re.compile(
    r"(?:Can't locate revision identified by|No such revision or branch) '([^']*)'"
)


@contextmanager
def translate_errors(settings: Settings, *, user_revisions: Sequence[str] = ()) -> Iterator[None]:
    """Turn Alembic's and SQLAlchemy's exceptions into MigratectlErrors with exit codes."""
    from sqlalchemy.exc import DBAPIError, SQLAlchemyError

    try:
        yield
    except MigratectlError:
        raise
    except SyntaxError as exc:
        raise unloadable_file_error(exc) or UsageError(
            f"Cannot load {display_path(exc.filename or '?')}: {exc.msg} (line {exc.lineno}).",
            hint="Fix the revision file.",
        ) from exc
    except DBAPIError as exc:
        if exc.connection_invalidated or _is_connection_failure(exc):
            raise database_error(exc, settings.database_url or "") from exc
        raise DatabaseError(
            f"The database reported an error: {str(exc.orig).strip().splitlines()[0]}"
        ) from exc
    except SQLAlchemyError as exc:
        raise ConfigError(f"SQLAlchemy error: {str(exc).splitlines()[0]}") from exc
    except OSError as exc:
        if exc.filename:
            raise UsageError(
                f"Cannot access {display_path(exc.filename)}: {exc.strerror}.",
                hint="Check that the folder exists and is writable.",
            ) from exc
        raise
    except Exception as exc:
        files = revision_files_error(exc)
        if files is not None:
            raise files from exc
        if _is_command_error(exc):
            raise command_error(str(exc), settings, user_revisions) from exc
        # e.g. a NameError at the top of a revision file
        unloadable = unloadable_file_error(exc)
        if unloadable is None:
            raise
        raise unloadable from exc
    except SystemExit as exc:  # sys.exit() in env.py or in a file it imports
        unloadable = unloadable_file_error(exc)
        if unloadable is None:
            raise
        raise unloadable from exc


def _is_command_error(exc: Exception) -> bool:
    """Alembic's CommandError (never raised unless Alembic was imported; not imported here)."""
    alembic_util = sys.modules.get("alembic.util")
    return alembic_util is not None and isinstance(exc, alembic_util.CommandError)


def _is_connection_failure(exc: Any) -> bool:
    from sqlalchemy.exc import InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError))


def command_error(
    message: str, settings: Settings, user_revisions: Sequence[str]
) -> MigratectlError:
    unknown = _UNKNOWN_REVISION.search(message)
    if unknown:
        rev = unknown.group(1)
        typed = {r for r in user_revisions if r} | {
            part for r in user_revisions for part in re.split(r"[:@+\-]", r or "") if part
        }
        if rev in typed or not rev:
            return UsageError(
                f"Unknown revision {rev!r}: no script in {display_path(settings.directory)} has "
                "it.",
                hint="Run `migratectl history` to list the revisions.",
            )
        return UsageError(
            f"The database is at revision {rev!r}, which no script in "
            f"{display_path(settings.directory)} has.",
            hint="Pull the latest migration scripts (the database was migrated by a newer "
            "version of the project); if that revision was deleted on purpose, record where "
            "the schema really is with `migratectl stamp --purge REVISION`.",
        )
    if "Multiple head revisions are present" in message or "Multiple heads are present" in message:
        return UsageError(
            "The repository has more than one head revision, so 'head' is ambiguous.",
            hint="Run `migratectl merge heads -m \"merge\"` to join them, or use 'heads' to "
            "upgrade every branch.",
        )
    if "Target database is not up to date" in message:
        return UsageError(
            "The database is not at the head revision, so the models cannot be compared.",
            hint="Run `migratectl upgrade` first.",
        )
    not_head = re.search(r"Revision (\S+) is not a head revision", message)
    if not_head:
        return UsageError(
            f"Revision {not_head.group(1)} is not a head revision.",
            hint="Pass --splice to `revision` or `migrate` to start a new branch from it; "
            "`migratectl heads` lists the heads.",
        )
    if "revision_environment is not configured" in message:
        return UsageError(
            "revision --sql needs env.py to run when a revision is written.",
            hint="Set revision_environment = true under [alembic] in the configuration, "
            "or leave out --sql.",
        )
    if "not represented in current version locations" in message:
        return UsageError(
            f"{message}.",
            hint="List the folder in version_locations under [alembic] in the configuration "
            '(for example version_locations = "migrations/versions other/versions").',
        )
    relative = re.fullmatch(
        r"Relative revision ([+-]?)(\d+) didn't produce \d+ migrations", message
    )
    if relative:
        sign, steps = relative.groups()
        if sign == "-" and steps == "1":
            return UsageError(
                "The database is at base (no revision applied); there is nothing to downgrade.",
                hint="`migratectl current` shows where the database is.",
            )
        if sign == "-":
            return UsageError(
                f"The database has fewer than {steps} revisions applied, so it cannot go "
                f"{steps} revisions down.",
                hint="`migratectl current` shows where it is; name the revision to go to, "
                "or `base` to revert every revision.",
            )
        return UsageError(
            f"There are fewer than {steps} revisions to apply above the current one.",
            hint="`migratectl status` lists the pending revisions; `migratectl upgrade` "
            "applies all of them.",
        )
    if message == "Ambiguous walk":
        return UsageError(
            "A relative step (such as -1) cannot cross a merge point or branch point: "
            "which branch to follow is ambiguous.",
            hint="Name the revision to go to instead (`migratectl history -i` shows them).",
        )
    return UsageError(message)
