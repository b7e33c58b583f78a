"""``migratectl lint``: every revision of a range read without a database, its operations
replayed and judged by the rules (SPEC §2 "lint rules").

:mod:`.rules` holds the rule table and the finding; :mod:`.engine` walks the revisions;
:mod:`.reader` reads a revision's ``upgrade()`` and the functions it calls, :mod:`.sql` the
SQL of ``op.execute()`` (sqlglot), :mod:`.replay` knows the schema before each revision,
:mod:`.checks` applies the rules, :mod:`.markers` reads the allow-markers.
"""

from __future__ import annotations

from collections.abc import Iterable

from migratectl.commands.lint.engine import LintResult, lint_revisions
from migratectl.repository.config import require_repository, resolve_settings
from migratectl.settings import Settings

__all__ = ["LintResult", "lint"]


def lint(
    settings: Settings | None = None,
    rev_range: str | None = None,
    *,
    dialect: str | None = None,
    disabled: Iterable[str] = (),
) -> LintResult:
    """What a lint rule flags in the revisions of ``rev_range`` (Alembic's ``start:end``,
    default all): operations that lose data, lock tables or fail when they run. ``dialect``
    overrides the configured URL's; ``disabled`` names rules to leave out. Reads no
    database and imports no revision file (the project's environment is entered only when
    Alembic must import them: :func:`.engine.lint_revisions`)."""
    resolved = resolve_settings(settings)
    require_repository(resolved)
    return lint_revisions(resolved, rev_range, dialect=dialect, disabled=disabled)
