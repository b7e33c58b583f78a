"""``migratectl lint``: every revision of a range read, replayed and judged by the rules.

The revisions are enumerated and ordered by Alembic's ScriptDirectory, oldest first, from
the base (the ones before the range are read too, to replay the schema, but not reported).
Its revision map is built from the identifiers the files' source states
(:func:`migratectl.repository.revision_graph.read_revision_sources`), so no revision file is
imported, the application they import need not be installed and the project's ``run_within``
is not entered; only when a file computes its identifiers does Alembic import the files (in
the project's environment) to learn them. Each file is parsed, never run, and no database is
opened: the dialect rules are chosen from the configured URL's dialect
(``sqlalchemy.engine.make_url``, which connects to nothing) or ``[lint] dialect``, so lint
runs in CI before anything is deployed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migratectl.commands.lint.checks import judge
from migratectl.commands.lint.markers import Markers, read_markers, rules_named
from migratectl.commands.lint.operations import Operation
from migratectl.commands.lint.reader import read_upgrade
from migratectl.commands.lint.replay import Schema
from migratectl.commands.lint.sql import read_sql
from migratectl.errors import ConfigError, UsageError
from migratectl.lint_rules import BY_ID, RULES, Finding
from migratectl.output import display_path
from migratectl.settings import Settings

DIALECT_NAMES = {"postgresql": "PostgreSQL", "mysql": "MySQL/MariaDB"}
_ALIASES = {"postgres": "postgresql", "pgsql": "postgresql", "mariadb": "mysql"}


@dataclass(frozen=True)
class UnreadStatement:
    """An ``op.execute()`` lint could not read, so no rule judged it."""

    revision: str
    path: str
    line: int
    reason: str


@dataclass
class LintResult:
    findings: list[Finding]  # by revision (oldest first), then line
    revisions: int  # how many revisions of the range were read
    dialects: dict[str, str | None] = field(default_factory=dict)  # database -> dialect
    skipped_rules: tuple[str, ...] = ()  # dialect rules not run: no dialect known
    disabled_rules: frozenset[str] = frozenset()
    unread: list[UnreadStatement] = field(default_factory=list)

    @property
    def unacknowledged(self) -> list[Finding]:
        return [f for f in self.findings if not f.acknowledged]

    def as_json(self) -> dict[str, Any]:
        return {"findings": [finding.as_json() for finding in self.findings]}


def normalise_dialect(name: str) -> str:
    """``postgres`` / ``postgresql`` → ``postgresql``, ``mariadb`` / ``mysql`` → ``mysql``."""
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def url_dialect(url: str | None) -> str | None:
    """The dialect a database URL names, read without connecting; None when it names none."""
    if not url:
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return normalise_dialect(make_url(url).get_backend_name())
    except (ArgumentError, ValueError):
        return None


def rule_ids(words: Iterable[str], *, setting: str = "[lint] disable") -> frozenset[str]:
    """Rule ids for ids or names; an unknown one is a configuration error naming it."""
    ids: set[str] = set()
    for word in words:
        rules = rules_named(word)
        if not rules:
            raise ConfigError(
                f"{setting} names {word!r}, which is no lint rule.",
                hint="Name rules by id (MC102) or name (drop-column); `migratectl lint --help` "
                "and the README list them.",
            )
        ids.update(rule.id for rule in rules)
    return frozenset(ids)


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


def lint_revisions(
    settings: Settings,
    rev_range: str | None = None,
    *,
    dialect: str | None = None,
    disabled: Iterable[str] = frozenset(),
) -> LintResult:
    """Judge the ``upgrade()`` of every revision in ``rev_range`` (default all) by the rules.

    ``dialect`` and ``disabled`` (rule ids or names) add to ``[lint] dialect`` / ``disable``
    of the settings; ``dialect`` wins over both the setting and the URL.
    """
    from migratectl.repository.config import build_config, script_directory
    from migratectl.repository.project import project_environment
    from migratectl.repository.revision_graph import read_revision_sources, source_revision_map
    from migratectl.repository.translation import translate_errors

    dialect = dialect or _setting(settings, "dialect")
    off = rule_ids(disabled, setting="disable") | rule_ids(_setting(settings, "disable") or ())
    dialects = {"": normalise_dialect(dialect) if dialect else url_dialect(settings.database_url)}
    for name, bind in settings.binds.items():
        dialects[name] = normalise_dialect(dialect) if dialect else url_dialect(bind.database_url)

    start, end = range_bounds(rev_range)
    with translate_errors(settings, user_revisions=[start, end]), ExitStack() as stack:
        sources = read_revision_sources(settings)
        if sources is None:
            # Alembic imports the files: inside the project, as every command that loads them.
            stack.enter_context(project_environment(settings))
        config = build_config(settings)
        directory = script_directory(config)
        paths: dict[str, Path] = {}
        if sources is not None:
            directory.revision_map = source_revision_map(sources)
            paths = {source.revision: source.path for source in sources}  # the last one wins
        wanted = {s.revision for s in directory.walk_revisions(base=start, head=end)}
        scripts = list(directory.walk_revisions(base="base", head=end))
        scripts.reverse()
        linter = _Linter(dialects, off)
        for script in scripts:
            path = paths.get(script.revision) or Path(script.path)
            linter.read(script.revision, path, report=script.revision in wanted)
    skipped = tuple(
        rule.id
        for rule in RULES
        if rule.dialect is not None
        and rule.id not in off
        and any(d is None for d in linter.dialects_seen())
    )
    return LintResult(
        findings=linter.findings,
        revisions=len(wanted),
        dialects=dialects,
        skipped_rules=skipped,
        disabled_rules=off,
        unread=linter.unread,
    )


def _setting(settings: Settings, key: str) -> Any:
    """``[lint] key``: as ``settings.lint_<key>``, or in a ``settings.lint`` table / object."""
    value = getattr(settings, f"lint_{key}", None)
    if value:
        return value
    table = getattr(settings, "lint", None)
    if isinstance(table, dict):
        return table.get(key)
    return getattr(table, key, None)


class _Linter:
    def __init__(self, dialects: dict[str, str | None], disabled: frozenset[str]) -> None:
        self.dialects = dialects
        self.disabled = disabled
        self.schemas: dict[str, Schema] = {}
        self.findings: list[Finding] = []
        self.unread: list[UnreadStatement] = []
        self.seen: set[str] = set()

    def _dialect(self, database: str) -> str | None:
        return self.dialects.get(database, self.dialects.get(""))

    def dialects_seen(self) -> list[str | None]:
        """The dialects of the databases whose operations were judged."""
        return [self._dialect(name) for name in self.seen or {""}]

    def read(self, revision: str, path: Path, *, report: bool) -> None:
        if path.suffix != ".py":
            raise UsageError(
                f"Cannot lint {path}: only the compiled file of this revision is present.",
                hint="Lint the repository where the revision's source (.py) is.",
            )
        shown = display_path(path)
        source = path.read_bytes()
        tree = ast.parse(source, filename=shown)

        def sql(
            text: str, database: str, line: int, spans: tuple[tuple[int, int], ...], auto: bool
        ) -> tuple[list[Operation], list[str]]:
            return read_sql(
                text,
                self._dialect(database),
                database=database,
                line=line,
                spans=spans,
                autocommit=auto,
            )

        operations, unread = read_upgrade(tree, sql)
        for schema in self.schemas.values():
            schema.begin(revision)
        found: list[Finding] = []
        markers = read_markers(source)
        for operation in operations:
            schema = self._schema(operation.database, revision)
            if report:
                self.seen.add(operation.database)
                found.extend(self._findings(operation, schema, revision, shown, markers))
            schema.apply(operation)
        if not report:
            return
        if "MC000" not in self.disabled:
            for line, word in markers.unknown:
                found.append(_unknown_marker(revision, shown, line, word))
        found.sort(key=lambda finding: finding.line)
        self.findings.extend(found)
        self.unread.extend(UnreadStatement(revision, shown, u.line, u.reason) for u in unread)

    def _schema(self, database: str, revision: str) -> Schema:
        if database not in self.schemas:
            self.schemas[database] = Schema()
            self.schemas[database].begin(revision)
        return self.schemas[database]

    def _findings(
        self, operation: Operation, schema: Schema, revision: str, shown: str, markers: Markers
    ) -> list[Finding]:
        dialect = self._dialect(operation.database)
        found = []
        for breach in judge(operation, schema):
            rule = BY_ID[breach.rule]
            if rule.id in self.disabled or (rule.dialect and rule.dialect != dialect):
                continue
            found.append(
                Finding(
                    rule=rule.id,
                    name=rule.name,
                    revision=revision,
                    path=shown,
                    line=operation.line,
                    operation=operation.operation,
                    table=breach.table,
                    column=breach.column,
                    message=breach.message,
                    acknowledged=markers.allows(rule.id, operation.spans),
                )
            )
        return found


def _unknown_marker(revision: str, shown: str, line: int, word: str) -> Finding:
    rule = BY_ID["MC000"]
    return Finding(
        rule=rule.id,
        name=rule.name,
        revision=revision,
        path=shown,
        line=line,
        operation="comment",
        table=None,
        column=None,
        message=(
            f"The allow-marker names {word!r}, which is no rule id or name, so it acknowledges "
            "nothing."
            if word
            else "The allow-marker names no rule, so it acknowledges nothing."
        ),
        acknowledged=False,
    )
