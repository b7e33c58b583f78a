"""What a run did: the revisions before and after and each step applied
(:class:`AppliedRevisions`, for ``--json``), and the statements of the running revision
(:class:`StatementLog`, for the truth about what stayed after a failure).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    pass


class AppliedRevisions:
    """What an upgrade, downgrade or stamp did to the (default) database: its revisions
    before and after (read under the migration lock) and each step, as Alembic reports it
    once the version table records it."""

    def __init__(self) -> None:
        self.before: list[str] | None = None
        self.after: list[str] = []
        self.steps: list[dict[str, Any]] = []
        self._since = time.monotonic()

    def watch(self, migration_context: Any) -> None:
        """Learn the revisions before the run from Alembic itself: it reads them inside the
        run's transaction and hands them to the function that plans the steps."""
        steps_of = getattr(migration_context, "_migrations_fn", None)
        if steps_of is None:
            return

        def planned(heads: Any, ctx: Any) -> Any:
            if self.before is None:  # the default database comes first
                self.before = sorted(heads or ())
                self.after = list(self.before)
            self._since = time.monotonic()
            return steps_of(heads, ctx)

        migration_context._migrations_fn = planned

    def revision_done(self, *, step: Any, heads: Any, **_: Any) -> None:
        now = time.monotonic()
        if step.is_stamp:
            direction, revision = "stamp", ",".join(step.destination_revision_ids) or "base"
        elif step.is_upgrade:
            direction, revision = "upgrade", step.up_revision_id
        else:
            direction, revision = "downgrade", step.up_revision_id
        self.steps.append(
            {"revision": revision, "direction": direction, "seconds": round(now - self._since, 3)}
        )
        self._since = now
        self.after = sorted(heads or ())


class StatementLog:
    """What the running command has done, and which of it is committed: the statements of
    the running revision (in order, ``statements[:committed]`` committed), the revisions
    completed before it, and the heads the version table held at the last commit.

    A commit is what SQLAlchemy reports (Alembic's per-revision commit, the one that
    ``autocommit_block()`` makes on entry), a statement run in AUTOCOMMIT mode (inside that
    block), or, on MySQL/MariaDB, a DDL statement (which commits everything before it)."""

    def __init__(self, *, implicit_ddl_commit: bool = False) -> None:
        self.implicit_ddl_commit = implicit_ddl_commit
        self.statements: list[str] = []
        self.committed = 0
        self.heads: list[str] | None = None  # at the last commit; None: as before the command
        self.committed_steps: list[Any] = []  # Alembic's MigrationInfo, in order
        self.uncommitted_steps: list[Any] = []
        self._heads_done: list[str] | None = None  # after the last revision that completed
        self._before_commit: tuple[int, list[str] | None, int] = (0, None, 0)

    def watch(self, migration_context: Any) -> None:
        """Know when each revision starts (Alembic's steps are taken one at a time)."""
        steps_of = getattr(migration_context, "_migrations_fn", None)
        if steps_of is None:
            return

        def started_steps(heads: Any, ctx: Any) -> Iterator[Any]:
            self.heads = sorted(head for head in heads if head)  # as Alembic just read them
            for step in steps_of(heads, ctx):
                self.statements.clear()
                self.committed = 0
                yield step

        migration_context._migrations_fn = started_steps

    def after_execute(self, conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        first = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""
        if first not in NOT_WORK_KEYWORDS:
            self.statements.append(" ".join(statement.split()))
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT" or (
            self.implicit_ddl_commit and first in DDL_KEYWORDS
        ):
            self.commit(conn)

    def commit(self, _conn: Any = None) -> None:
        self._before_commit = (self.committed, self.heads, len(self.committed_steps))
        self.committed = len(self.statements)
        if self._heads_done is not None:
            self.heads = self._heads_done
        self.committed_steps.extend(self.uncommitted_steps)
        self.uncommitted_steps.clear()

    def commit_failed(self) -> Any:
        """SQLAlchemy reports a commit before making it: this one raised, so nothing of it
        was made (the server rolls back a transaction whose COMMIT fails). Returns the step
        whose commit it was, if any."""
        self.committed, self.heads, count = self._before_commit
        self.uncommitted_steps[:0] = self.committed_steps[count:]
        del self.committed_steps[count:]
        return self.uncommitted_steps.pop() if self.uncommitted_steps else None

    def revision_done(self, *, heads: Any = None, step: Any = None, **_: Any) -> None:
        # The statements stay listed until the next revision starts: its commit may fail.
        self._heads_done = sorted(heads or ())
        if step is not None:
            self.uncommitted_steps.append(step)

    @property
    def stayed(self) -> list[str]:
        return self.statements[: self.committed]

    @property
    def undone(self) -> list[str]:
        return self.statements[self.committed :]


DDL_KEYWORDS = ("CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE")


# Statements that change nothing a user would have to undo.
NOT_WORK_KEYWORDS = (
    "SELECT",
    "SHOW",
    "PRAGMA",
    "DESCRIBE",
    "BEGIN",
    "COMMIT",
    "ROLLBACK",
    "SAVEPOINT",
)
