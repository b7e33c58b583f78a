"""``migratectl lint``: the rule engine lives in :mod:`migratectl.commands.lint`."""

from __future__ import annotations

from migratectl.commands.lint.engine import LintResult, lint_revisions, range_bounds
from migratectl.commands.lint.rules import Finding

__all__ = ["Finding", "LintResult", "lint_revisions", "range_bounds"]
