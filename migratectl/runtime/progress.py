"""A progress line per revision on a terminal, for a long ``upgrade`` / ``downgrade``."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from migratectl.output import Output

if TYPE_CHECKING:
    pass


class RevisionProgress:
    """On a terminal, a bar over the revisions an upgrade or downgrade applies.

    The count is known once Alembic has read the current revision and asked for the steps;
    until then (and with one step, or none) nothing is shown. The per-revision log lines
    still print, above the bar.
    """

    def __init__(self, output: Output) -> None:
        self.output = output
        self.bar = ExitStack()
        self.advance: Callable[[], None] | None = None

    def watch(self, migration_context: Any) -> None:
        steps_of = getattr(migration_context, "_migrations_fn", None)
        if steps_of is None or not self.output.shows_progress():
            return

        def counted_steps(heads: Any, ctx: Any) -> list[Any]:
            steps = list(steps_of(heads, ctx))
            if len(steps) > 1:
                verb = "Upgrading" if getattr(steps[0], "is_upgrade", True) else "Downgrading"
                self.advance = self.bar.enter_context(self.output.progress(len(steps), verb))
            return steps

        migration_context._migrations_fn = counted_steps

    def revision_done(self, **_: Any) -> None:
        if self.advance is not None:
            self.advance()

    def __enter__(self) -> RevisionProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.advance = None
        self.bar.close()
