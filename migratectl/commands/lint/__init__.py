"""``migratectl lint``: the operations of a range of revisions that lose data or lock tables.

The revisions are enumerated and ordered by Alembic's ScriptDirectory; each file's
``upgrade()`` is then read as a syntax tree by :mod:`migratectl.autogen.destructive`. No
database is opened, so lint runs in CI before anything is deployed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from migratectl.autogen.destructive import Operation, analyze_source
from migratectl.errors import UsageError
from migratectl.repository.config import in_project, require_repository, resolve_settings
from migratectl.settings import Settings


@dataclass(frozen=True)
class Finding:
    """A risky operation in one revision."""

    revision: str
    path: str  # as shown: relative to the current directory
    operation: Operation

    def as_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "path": self.path,
            "line": self.operation.line,
            "operation": self.operation.operation,
            "table": self.operation.table,
            "column": self.operation.column,
            "acknowledged": self.operation.acknowledged,
        }

    def __str__(self) -> str:
        """``path:line: revision operation table.column`` (+ ``(allowed)``)."""
        line = (
            f"{self.path}:{self.operation.line}: {self.revision} "
            f"{self.operation.operation} {self.operation.target}"
        )
        return line + " (allowed)" if self.operation.acknowledged else line


@dataclass
class LintResult:
    findings: list[Finding]
    revisions: int  # how many revisions were read

    @property
    def unacknowledged(self) -> list[Finding]:
        return [f for f in self.findings if not f.operation.acknowledged]

    def as_json(self) -> dict[str, Any]:
        """``lint --json``."""
        return {"findings": [finding.as_json() for finding in self.findings]}


def range_bounds(rev_range: str | None) -> tuple[str, str]:
    """``start:end`` (either side may be empty) -> (start, end); a bare ``REV`` is that one."""
    if not rev_range:
        return "base", "heads"
    start, colon, end = rev_range.partition(":")
    if not colon:
        end = start
    if "current" in (start, end):
        raise UsageError(
            f"The range {rev_range!r} names 'current', which lint cannot know: it reads no "
            "database.",
            hint="Name revisions instead, e.g. `migratectl lint ae1027a6acf:` (from that "
            "revision to the heads), or run `migratectl current` first.",
        )
    return start or "base", end or "heads"


def lint_revisions(settings: Settings, rev_range: str | None = None) -> LintResult:
    """Read the ``upgrade()`` of every revision in ``rev_range``, oldest first."""
    from migratectl.output import display_path
    from migratectl.repository.config import build_config, script_directory
    from migratectl.repository.translation import translate_errors

    start, end = range_bounds(rev_range)
    config = build_config(settings)
    findings: list[Finding] = []
    with translate_errors(settings, user_revisions=[start, end]):
        scripts = list(script_directory(config).walk_revisions(base=start, head=end))
        scripts.reverse()
        for script in scripts:
            path = Path(script.path)
            shown = display_path(path)
            for operation in analyze_source(_read_source(path), shown):
                findings.append(Finding(script.revision, shown, operation))
    return LintResult(findings, revisions=len(scripts))


def _read_source(path: Path) -> bytes:
    if path.suffix != ".py":
        raise UsageError(
            f"Cannot lint {path}: only the compiled file of this revision is present.",
            hint="Lint the repository where the revision's source (.py) is.",
        )
    return path.read_bytes()


@in_project
def lint(settings: Settings | None = None, rev_range: str | None = None) -> LintResult:
    """The operations in the ``upgrade()`` of the revisions in ``rev_range`` (Alembic's
    ``start:end``, default all) that lose data or lock tables. Reads no database."""
    settings = resolve_settings(settings)
    require_repository(settings)
    return lint_revisions(settings, rev_range)
