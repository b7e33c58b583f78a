"""Revision files that cannot be loaded, in words: the file and line of a syntax error or
of the exception its import raised, a version folder that is missing or loops, a revision
cycle. Used while Alembic loads the files (any command) and while a run loads them."""

from __future__ import annotations

import errno
import os
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migratectl.errors import (
    UsageError,
)
from migratectl.output import display_path

if TYPE_CHECKING:
    pass


def unloadable_file_error(exc: BaseException) -> UsageError | None:
    """A UsageError naming file and line when ``exc`` was raised while Alembic imported a
    revision file (or env.py) rather than while one ran; otherwise None."""
    problem = revision_files_error(exc)
    if problem is not None:
        return problem
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost load: env.py loads the revision files (and a revision may fail to load).
    loader = max(
        (i for i, f in enumerate(frames) if f.name == "load_module_py" and "alembic" in f.filename),
        default=None,
    )
    if loader is None:
        return None
    if any(f.name == "run_migrations" and "alembic" in f.filename for f in frames[loader:]):
        return None  # a revision was running: a migration failure, not a file that cannot load
    if isinstance(exc, SyntaxError) and exc.filename:
        where, error = f"{display_path(exc.filename)}, line {exc.lineno}", f"{exc.msg}"
    else:
        # The loaded file is the first frame below the loader that is not importlib's.
        loaded = next(
            (f for f in frames[loader + 1 :] if not f.filename.startswith("<")),
            None,
        )
        where = f"{display_path(loaded.filename)}, line {loaded.lineno}" if loaded else "unknown"
        error = traceback.format_exception_only(type(exc), exc)[-1].strip().splitlines()[0]
    return UsageError(
        f"Cannot load {where}: {error}.",
        hint="Fix the file and run the command again (-v shows the traceback).",
    )


def revision_files_error(exc: BaseException) -> UsageError | None:
    """A UsageError for revision files that do not form a history Alembic can read: a cycle
    of down_revisions, a file without ``down_revision``, a broken symbolic link; else None."""
    cycle = _cycle_of(exc)
    if cycle is not None:
        return UsageError(
            f"The revisions {', '.join(cycle)} form a cycle: following their down_revision "
            "never reaches the first revision.",
            hint="Fix down_revision in one of their files so that the "
            "chain ends at a revision whose down_revision is None.",
        )
    # Which file Alembic was reading: the innermost of its loops over the versions folder.
    path: Any = None
    for frame, _ in traceback.walk_tb(exc.__traceback__):
        code = frame.f_code
        if "alembic" in code.co_filename and code.co_name in ("_load_revisions", "_from_path"):
            path = frame.f_locals.get("file_path", path)
    if path is None:
        return None
    name = display_path(str(path))
    link = Path(path)
    if isinstance(exc, AttributeError) and "down_revision" in str(exc):
        return UsageError(
            f"Cannot load {name}: it has no down_revision variable.",
            hint="Add one: down_revision = None in the first revision, otherwise the id of "
            "the revision it follows (as in the other files).",
        )
    if link.is_symlink():
        target = os.readlink(link)
        what = (
            "a symbolic link that loops back on itself"
            if isinstance(exc, RuntimeError) or _loops(link)
            else f"a symbolic link to {target}, which does not exist"
        )
        return UsageError(
            f"Cannot load {name}: it is {what}.",
            hint="Remove the link, or point it at a revision file.",
        )
    return None  # an error inside the file: unloadable_file_error names its line


def _loops(link: Path) -> bool:
    try:
        link.resolve(strict=True)
    except RuntimeError:
        return True
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def _cycle_of(exc: BaseException | None) -> list[str] | None:
    """The revision ids of a cycle Alembic found (raised as is, or wrapped in CommandError)."""
    while exc is not None:
        revision = sys.modules.get("alembic.script.revision")
        if revision is not None and isinstance(exc, revision.CycleDetected):
            return list(exc.revisions)
        exc = exc.__cause__
    return None
