"""``upgrade``, ``downgrade``, ``stamp``: one path, under the migration lock unless
offline (``sql``) or ``no_lock``, returning what was done (:class:`VersioningResult`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from migratectl.database.engines import parse_url
from migratectl.errors import (
    UsageError,
)
from migratectl.output import Output, mask_url
from migratectl.repository.config import (
    alembic_logging,
    build_config,
    in_project,
    require_repository,
    resolve_settings,
)
from migratectl.repository.translation import translate_errors
from migratectl.runtime.applied import AppliedRevisions
from migratectl.runtime.context import APPLIED, TARGETS
from migratectl.settings import Settings

if TYPE_CHECKING:
    pass


def _run_versioning(
    settings: Settings,
    name: str,
    target: str | list[str],
    *,
    sql: bool,
    tag: str | None,
    no_lock: bool,
    output: Output | None,
    **extra: Any,
) -> VersioningResult:
    """The one path of upgrade / downgrade / stamp (``name``, Alembic's command of that name):
    under the migration lock unless offline (``sql``) or ``no_lock``, each step recorded."""
    from alembic import command

    targets = [target] if isinstance(target, str) else list(target)
    for rev in targets:
        _refuse_wrong_direction(name, rev)
    if name == "downgrade" and sql and ":" not in targets[0]:
        # Offline downgrades need a starting point: the scripts' head.
        target = targets[0] = f"head:{targets[0]}"
    if name == "stamp" and len(targets) == 1:
        target = targets[0]
    output = output or Output()
    require_repository(settings)
    lock = None if (sql or no_lock) else settings.lock_timeout
    config = build_config(settings, output, writes=not sql, lock_timeout=lock)
    config.attributes[TARGETS] = targets
    applied = AppliedRevisions()
    config.attributes[APPLIED] = applied
    if settings.database_url:
        output.add_secret(parse_url(settings.database_url).password)
    with translate_errors(settings, user_revisions=targets), alembic_logging(output, config):
        getattr(command, name)(config, target, sql=sql, tag=tag, **extra)
    database = mask_url(settings.database_url) if settings.database_url else ""
    return VersioningResult(database, applied.before or [], applied.after, applied.steps, sql)


# A relative step the wrong way: (command, sign of the step) -> (message, hint), for REV.
_WRONG_WAY = {
    ("upgrade", "-"): (
        "`upgrade {rev}` asks for a revision below the current one; upgrade only goes up.",
        "To revert revisions run `migratectl downgrade {rev}`; to apply a number of revisions "
        "use +N (`migratectl upgrade +1`).",
    ),
    ("downgrade", "+"): (
        "`downgrade {rev}` asks for a revision above the current one; downgrade only goes down.",
        "To apply revisions run `migratectl upgrade {rev}`; to revert a number of revisions "
        "use -N (`migratectl downgrade -1`).",
    ),
}


def _refuse_wrong_direction(name: str, rev: str) -> None:
    step = re.fullmatch(r"([+-])\d+", rev.strip())
    wrong = _WRONG_WAY.get((name, step.group(1))) if step else None
    if wrong is not None:
        message, hint = wrong
        raise UsageError(message.format(rev=rev), hint=hint.format(rev=rev))


@in_project
def upgrade(
    settings: Settings | None = None,
    rev: str = "head",
    *,
    sql: bool = False,
    tag: str | None = None,
    no_lock: bool = False,
    output: Output | None = None,
) -> VersioningResult:
    """Apply revisions up to ``rev`` (``head``, ``heads``, an id, ``+N``, ``BRANCH@head``),
    holding the migration lock (``no_lock=True`` leaves it); ``sql=True`` prints the SQL
    instead of running it. The result says what was applied (``result.as_json()``)."""
    return _run_versioning(
        resolve_settings(settings), "upgrade", rev, sql=sql, tag=tag, no_lock=no_lock, output=output
    )


@in_project
def downgrade(
    settings: Settings | None = None,
    rev: str = "-1",
    *,
    sql: bool = False,
    tag: str | None = None,
    no_lock: bool = False,
    output: Output | None = None,
) -> VersioningResult:
    """Revert revisions down to ``rev`` (``-N``, an id, ``base``), holding the migration
    lock; ``sql=True`` prints the SQL (from the scripts' head unless ``rev`` is a range)."""
    return _run_versioning(
        resolve_settings(settings),
        "downgrade",
        rev,
        sql=sql,
        tag=tag,
        no_lock=no_lock,
        output=output,
    )


@in_project
def stamp(
    settings: Settings | None = None,
    revisions: Sequence[str] = ("head",),
    *,
    sql: bool = False,
    tag: str | None = None,
    purge: bool = False,
    no_lock: bool = False,
    output: Output | None = None,
) -> VersioningResult:
    """Set the version table to ``revisions`` without running migrations (``purge=True``
    deletes every version row first), holding the migration lock."""
    return _run_versioning(
        resolve_settings(settings),
        "stamp",
        list(revisions),
        sql=sql,
        tag=tag,
        no_lock=no_lock,
        output=output,
        purge=purge,
    )


@dataclass
class VersioningResult:
    """What ``upgrade``, ``downgrade`` or ``stamp`` did to the (default) database: its
    revisions before and after, and each revision applied, reverted or stamped, in order
    (``{"revision", "direction", "seconds"}``). Offline (``sql``), nothing is known."""

    database: str
    before: list[str]
    after: list[str]
    applied: list[dict[str, Any]]
    sql: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "from": self.before,
            "to": self.after,
            "applied": self.applied,
        }
