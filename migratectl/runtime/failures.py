"""What a failed, interrupted or cut-off run left, in words: the revision named, what was
rolled back and what stayed committed (MySQL/MariaDB DDL, autocommit blocks), where the
version table says the database is; and revision files that cannot be loaded.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from migratectl.errors import (
    DatabaseError,
    Interrupted,
    MigratectlError,
    MigrationFailed,
    SigtermReceived,
    Terminated,
)
from migratectl.output import display_path
from migratectl.runtime.applied import DDL_KEYWORDS, StatementLog
from migratectl.runtime.context import wants_models
from migratectl.runtime.revision_files import unloadable_file_error

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


@contextmanager
def failures_reported(context: Any, log: StatementLog | None) -> Iterator[None]:
    """Turn whatever a revision script raised into MigrationFailed (exit 4), a lost
    connection into DatabaseError (exit 3) when nothing of the revision was committed, and
    Ctrl-C / SIGTERM into Interrupted (exit 130 / 143)."""
    if wants_models(context):
        yield
        return
    from alembic.util import CommandError

    try:
        yield
    except (MigratectlError, CommandError):
        raise  # already a clear message, or Alembic refusing (unknown revision, …)
    except KeyboardInterrupt as exc:  # SIGTERM too (SigtermReceived)
        raise _describe_interrupt(context, exc, log) from exc
    except Exception as exc:
        # Alembic imports the revision files lazily, so one that cannot even be loaded
        # fails in here too; no revision ran, so it is not a migration failure.
        unloadable = unloadable_file_error(exc)
        if unloadable is not None:
            raise unloadable from exc
        committing = None
        if log is not None and _raised_by_commit(exc):
            committing = log.commit_failed()
        if getattr(exc, "connection_invalidated", False) and log is not None:
            raise _describe_lost_connection(context, exc, log, committing) from exc
        raise _describe_failure(context, exc, log, committing) from exc
    except BaseException as exc:  # sys.exit() in a data migration, GeneratorExit, …
        raise _describe_failure(context, exc, log) from exc


def _describe_interrupt(
    context: Any, exc: KeyboardInterrupt, log: StatementLog | None
) -> Interrupted:
    """What Ctrl-C (or SIGTERM) left behind, told without asking the database (its
    connection may be in the middle of a statement)."""
    revision, where = _failing_revision(context.script, exc)
    terminated = isinstance(exc, SigtermReceived)
    error = Terminated if terminated else Interrupted
    what = "Terminated (SIGTERM)" if terminated else "Interrupted"
    parts = [f"{what} during revision {revision} ({where})." if revision else f"{what}."]
    if context.is_offline_mode() or log is None:
        return error(" ".join(parts))
    parts.append(_database_is_at(log.heads))
    parts.extend(_what_stayed(context.get_context().dialect, log, "interrupted"))
    hint = "Then run the command again." if log.stayed else "Run the command again to continue."
    return error(" ".join(parts), hint=hint)


def _raised_by_commit(exc: BaseException) -> bool:
    return any(frame.name == "_commit_impl" for frame in traceback.extract_tb(exc.__traceback__))


def _describe_lost_connection(
    context: Any, exc: Exception, log: StatementLog, committing: Any = None
) -> DatabaseError | MigrationFailed:
    """The connection broke while a revision ran: what the server kept is what was
    committed; it rolls back the open transaction when it sees the connection gone."""
    hint = (
        "Check the server and the network between (a restart, a failover, a proxy or "
        "firewall that ends connections), then run the command again."
    )
    revision, where = _failing_revision(context.script, exc)
    if committing is not None and revision is None:
        return DatabaseError(
            "The connection to the database was lost while committing revision "
            f"{committing.up_revision_id}: {_error_text(exc)} Whether the server made that "
            "commit is not known: `migratectl current` shows the revision the database is at.",
            hint=hint,
        )
    during = f" during revision {revision} ({where})" if revision else ""
    parts = [f"The connection to the database was lost{during}: {_error_text(exc)}"]
    parts.append(_database_is_at(log.heads))
    dialect = context.get_context().dialect
    parts.extend(_what_stayed(dialect, log, "interrupted", lost=True))
    statement = getattr(exc, "statement", None)
    if (
        statement
        and log.implicit_ddl_commit
        and statement.split(None, 1)[0].upper() in DDL_KEYWORDS
    ):
        parts.append(
            f"The statement that was running ({_shorten(statement)}) may still complete on the "
            f"server, which commits DDL by itself: look before running the revision again."
        )
    if log.stayed:
        return MigrationFailed(" ".join(parts), hint=hint)
    return DatabaseError(" ".join(parts), hint=hint)


def _database_is_at(heads: list[str] | None) -> str:
    """Where the version table is, from this command's last commit (None: none yet)."""
    if heads is None:
        return "The database is still at the revision it had before this command."
    return "The database is at " + (", ".join(heads) or "base (no revision)") + "."


def _describe_failure(
    context: Any, exc: BaseException, log: StatementLog | None, committing: Any = None
) -> MigrationFailed:
    script: ScriptDirectory = context.script
    revision, where = _failing_revision(script, exc)
    if revision is None and committing is not None:  # a deferred constraint, say
        revision, where = committing.up_revision_id, "at its COMMIT"
    error = _error_text(exc)
    message = f"Revision {revision} ({where}) failed: {error}" if revision else f"Failed: {error}"
    details: list[str] = []
    statement = getattr(exc, "statement", None)
    if statement:
        details.append(f"The statement that failed: {_shorten(statement)}.")
    migration_context = context.get_context()
    if not context.is_offline_mode():
        try:
            details.append(_database_is_at(list(migration_context.get_current_heads())))
        except Exception:
            if log is not None:
                details.append(_database_is_at(log.heads))
        if log is not None:
            details.extend(_what_stayed(migration_context.dialect, log))
        else:
            details.append("The failed revision was rolled back.")
    hint = "Fix the revision and run the command again (-v shows the traceback)."
    if isinstance(exc, SystemExit):
        hint = (
            "A revision must not end the process: call a click command's function with "
            "standalone_mode=False (or its callback) rather than the command itself, and run "
            "the command again (-v shows the traceback)."
        )
    elif _is_read_only(exc):
        hint = (
            "The database is read-only for this connection: check the file's permissions or "
            "mode=ro in the URL (SQLite), or the user's privileges, then run the command again."
        )
    return MigrationFailed(" ".join([message, *details]), hint=hint)


def _error_text(exc: BaseException) -> str:
    """``Type: first line``; for a database error, the driver's error rather than the wrapper."""
    original = getattr(exc, "orig", None)
    if isinstance(original, BaseException):
        lines = str(original).strip().splitlines()
        text = f"{type(original).__name__}: {lines[0] if lines else ''}".strip()
    else:
        text = traceback.format_exception_only(type(exc), exc)[-1].strip().splitlines()[0]
    return text if text.endswith((".", "!", "?")) else text + "."


def _shorten(statement: str, limit: int = 200) -> str:
    flat = " ".join(statement.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _what_stayed(
    dialect: Any, log: StatementLog, which: str = "failed", *, lost: bool = False
) -> list[str]:
    """Sentences on what of this command stayed committed and what was rolled back."""
    parts: list[str] = []
    reverted = [
        step.up_revision_id
        for step in log.committed_steps
        if not step.is_upgrade and not step.is_stamp
    ]
    if reverted:
        before = "it failed" if which == "failed" else "the interrupt"
        parts.append(f"Reverted and committed before {before}: " + ", ".join(reverted) + ".")
    stayed, undone = log.stayed, log.undone
    if not stayed:
        if lost:
            text = (
                f"Nothing of the {which} revision was committed: the server rolls back its "
                "open transaction when it sees the connection gone"
            )
        else:
            text = f"The {which} revision was rolled back"
        earlier = [step.up_revision_id for step in log.uncommitted_steps]
        if earlier:
            verb = "applied" if log.uncommitted_steps[0].is_upgrade else "reverted"
            text += (
                f", and with it {', '.join(earlier)}, which this command had {verb} in the "
                "same transaction"
            )
        return [*parts, text + "."]
    if log.implicit_ddl_commit:
        name = "MariaDB" if getattr(dialect, "is_mariadb", False) else "MySQL"
        text = (
            f"{name} cannot roll back DDL: these statements of the {which} revision had "
            "already run and stayed: "
        )
    else:
        text = (
            f"These statements of the {which} revision had been committed (autocommit_block() "
            "commits what ran before it and in it) and stayed: "
        )
    text += "; ".join(_shorten(sql) for sql in stayed) + "."
    if undone:
        label = "Not committed, so undone by the server" if lost else "Rolled back"
        text += f" {label}: " + "; ".join(_shorten(sql) for sql in undone) + "."
    parts.append(
        text + " Undo them by hand (or finish the revision's work) before running it again."
    )
    return parts


def _is_read_only(exc: BaseException) -> bool:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(marker in text for marker in ("readonly database", "read-only", "read only"))


def _failing_revision(script: ScriptDirectory, exc: BaseException) -> tuple[str | None, str]:
    """The revision whose file is deepest in the traceback, and "file, line N"."""
    by_path: dict[str, str] = {}
    try:
        for rev in script.walk_revisions():
            if rev.path:
                by_path[os.path.realpath(rev.path)] = rev.revision
    except Exception:
        return None, "unknown file"
    found: tuple[str | None, str] = (None, "unknown file")
    for frame in traceback.extract_tb(exc.__traceback__):
        revision = by_path.get(os.path.realpath(frame.filename))
        if revision:
            found = (revision, f"{display_path(frame.filename)}, line {frame.lineno}")
    return found
