"""A lint run as the report renders it: findings in rule terms, and which rules did not run.

``from_operations`` carries the findings of the operation-name analysis
(:mod:`migratectl.lint`) over to the rule table; the rule engine returns a ``LintOutcome``
itself, and then this conversion goes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from migratectl.commands.lint.rules import BY_ID, RULES, Finding

if TYPE_CHECKING:
    from migratectl.lint import LintResult
    from migratectl.settings import Settings


@dataclass
class LintOutcome:
    findings: list[Finding]
    revisions: int  # how many revisions were read
    skipped_rules: tuple[str, ...] = ()  # dialect rules not run: no dialect known
    disabled_rules: frozenset[str] = field(default_factory=frozenset)  # [lint] disable

    @property
    def unacknowledged(self) -> list[Finding]:
        return [finding for finding in self.findings if not finding.acknowledged]


def configured_dialect(settings: Settings) -> str | None:
    """``[lint] dialect``, else the dialect the database URL names (never connected to)."""
    if settings.lint_dialect:
        return settings.lint_dialect
    if settings.database_url and "://" in settings.database_url:
        return settings.database_url.split("://", 1)[0].split("+", 1)[0].lower()
    return None


def skipped_rules(settings: Settings) -> tuple[str, ...]:
    """With no dialect known, the dialect rules (those not disabled) do not run."""
    if configured_dialect(settings) is not None:
        return ()
    return tuple(rule.id for rule in RULES if rule.dialect and rule.id not in settings.lint_disable)


def _rule_and_call(operation: str, column: str | None, detail: str) -> tuple[str, str]:
    """The rule id an operation name stands for, and the ``op`` call that made it."""
    if operation == "not_null":
        return ("MC401", "add_column") if detail.startswith("adds") else ("MC402", "alter_column")
    if operation == "rename":
        return ("MC202", "alter_column") if column else ("MC201", "rename_table")
    if operation == "narrow_type":
        return "MC301", "alter_column"
    return {"drop_table": "MC101", "drop_column": "MC102"}[operation], operation


def from_operations(result: LintResult, settings: Settings) -> LintOutcome:
    findings = []
    for old in result.findings:
        op = old.operation
        rule_id, call = _rule_and_call(op.operation, op.column, op.detail)
        rule = BY_ID[rule_id]
        if rule.id in settings.lint_disable:
            continue
        findings.append(
            Finding(
                rule=rule.id,
                name=rule.name,
                revision=old.revision,
                path=old.path,
                line=op.line,
                operation=call,
                table=op.table,
                column=op.column,
                message=f"{op.detail[:1].upper()}{op.detail[1:]}: {rule.why}.",
                acknowledged=op.acknowledged,
            )
        )
    return LintOutcome(findings, result.revisions, skipped_rules(settings), settings.lint_disable)
