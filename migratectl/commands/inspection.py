"""Read-only commands: ``current``, ``status``, ``history``, ``show``, ``heads``,
``branches``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migratectl.errors import (
    UsageError,
)
from migratectl.output import Output
from migratectl.repository.config import (
    alembic_logging,
    build_config,
    in_project,
    require_repository,
    resolve_settings,
    script_directory,
)
from migratectl.repository.revisions import (
    RevisionInfo,
    RevisionList,
    check_known,
    pending_revisions,
    revision_info,
)
from migratectl.repository.state import CurrentState, current_state, read_database_heads
from migratectl.repository.translation import translate_errors
from migratectl.settings import Settings

if TYPE_CHECKING:
    pass


@in_project
def current(
    settings: Settings | None = None, *, output: Output | None = None, connection: Any = None
) -> CurrentState:
    """The database's revision(s) and the repository's heads (``connection``: the database's,
    already open)."""
    return current_state(resolve_settings(settings), output, connection)


@in_project
def status(
    settings: Settings | None = None, *, sql: bool = False, output: Output | None = None
) -> StatusResult:
    """The database's revision, the heads, and the revisions an upgrade would apply."""
    settings = resolve_settings(settings)
    state = current(settings, output=output)
    config = build_config(settings, output)
    with translate_errors(settings):
        script = script_directory(config)
        by_database = {
            name: [revision_info(s) for s in pending_revisions(script, revs)]
            for name, (_, revs) in state.databases().items()
        }
    pending = by_database[""]
    result = StatusResult(state.database, state.current, state.heads, pending)
    result.binds = {
        name: CurrentState(url, revs, state.heads) for name, (url, revs) in state.binds.items()
    }
    result.pending_by_database = {name: revs for name, revs in by_database.items() if name}
    if sql:
        result.sql = ""  # nothing pending: no SQL to run
    if sql and pending:
        import io

        from alembic import command

        buffer = io.StringIO()
        config.output_buffer = buffer
        start = ",".join(state.current) if state.current else "base"
        # Nothing runs, so no "Upgrade a -> b" progress lines (they would say otherwise).
        silent = Output(quiet=True, verbose=bool(output and output.verbose))
        with translate_errors(settings), alembic_logging(silent, config):
            command.upgrade(config, f"{start}:heads", sql=True)
        result.sql = buffer.getvalue()
    return result


@in_project
def history(
    settings: Settings | None = None,
    rev_range: str | None = None,
    *,
    indicate_current: bool = False,
) -> RevisionList:
    """Revisions newest first (within ``rev_range``, Alembic's ``base:head`` syntax), and the
    database's current revisions when ``indicate_current`` (else an empty list)."""
    settings = resolve_settings(settings)
    require_repository(settings)
    config = build_config(settings)
    current_heads: list[str] = []
    if indicate_current or (rev_range and "current" in rev_range):
        current_heads = read_database_heads(settings)
        with translate_errors(settings):
            check_known(script_directory(config), current_heads, settings)
    if rev_range:
        if ":" not in rev_range:
            raise UsageError(
                f"History range {rev_range!r} must have the form [start]:[end].",
                hint="For example -r base:head, -r ae10:, or -r -3:current.",
            )
        base, end = rev_range.split(":", 1)
    else:
        base, end = "", ""
    base, end = base or "base", end or "heads"
    with translate_errors(settings, user_revisions=[base, end]):
        script = script_directory(config)
        current_text = ",".join(current_heads) if current_heads else "base"
        base = current_text if base == "current" else base
        end = current_text if end == "current" else end
        revisions = [revision_info(s) for s in script.walk_revisions(base=base, head=end)]
    return RevisionList(revisions, current_heads if indicate_current else None)


@in_project
def show(settings: Settings | None = None, rev: str = "head") -> RevisionList:
    """The revision(s) ``rev`` names."""
    settings = resolve_settings(settings)
    require_repository(settings)
    config = build_config(settings)
    with translate_errors(settings, user_revisions=[rev]):
        scripts = script_directory(config).get_revisions(rev)
    found = [revision_info(s) for s in scripts if s is not None]
    if not found:
        raise UsageError(f"No revision matches {rev!r}.", hint="Run `migratectl history`.")
    return RevisionList(found)


@in_project
def heads(settings: Settings | None = None, *, resolve_dependencies: bool = False) -> RevisionList:
    """The head revisions."""
    settings = resolve_settings(settings)
    require_repository(settings)
    config = build_config(settings)
    with translate_errors(settings):
        script = script_directory(config)
        found = (
            script.get_revisions("heads")
            if resolve_dependencies
            else script.get_revisions(script.get_heads())
        )
    return RevisionList([revision_info(s) for s in found if s is not None])


@in_project
def branches(settings: Settings | None = None) -> RevisionList:
    """The branch points: revisions with more than one revision after them."""
    settings = resolve_settings(settings)
    require_repository(settings)
    config = build_config(settings)
    with translate_errors(settings):
        script = script_directory(config)
        found = [s for s in script.walk_revisions() if s.is_branch_point]
    return RevisionList([revision_info(s) for s in found])


@dataclass
class StatusResult:
    database: str
    current: list[str]
    heads: list[str]
    pending: list[RevisionInfo]
    sql: str | None = None
    binds: dict[str, CurrentState] = field(default_factory=dict)
    pending_by_database: dict[str, list[RevisionInfo]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """``status --json`` ("sql" with ``--sql``; other databases under "binds")."""
        document: dict[str, Any] = {
            "database": self.database,
            "current": self.current,
            "heads": self.heads,
            "pending": [r.as_json() for r in self.pending],
        }
        if self.sql is not None:
            document["sql"] = self.sql
        if self.binds:
            document["binds"] = {
                name: {
                    "database": state.database,
                    "current": state.current,
                    "pending": [r.as_json() for r in self.pending_by_database.get(name, [])],
                }
                for name, state in self.binds.items()
            }
        return document
