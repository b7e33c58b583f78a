"""Offline SQL (``--sql``) for SQLite: run the revisions on a scratch copy, print what ran.

Alembic's own offline mode cannot ALTER a SQLite table: batch mode's "move and copy" reflects
the table first, and in ``--sql`` mode there is no database to reflect ("batch mode with
dialect sqlite requires a live database connection"). So for SQLite, migratectl runs the
revisions on an empty in-memory database — brought to the starting revision first, silently —
and prints the statements they executed, each revision in its own transaction.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

# Statements that read, or that the scratch database's own transaction handling issued.
_NOT_PRINTED = frozenset(
    {"SELECT", "PRAGMA", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"}
)


def run_offline_on_scratch(context: Any, options: dict[str, Any]) -> None:
    """The offline branch of env.py for SQLite: print the SQL of the requested range."""
    from migratectl.database.engines import make_engine
    from migratectl.runtime.context import environment_of

    environment = environment_of(context)
    context_opts = environment.context_opts
    migrations_fn = context_opts["fn"]
    start = context_opts.get("starting_rev")
    output = context_opts.get("output_buffer") or context.config.output_buffer or sys.stdout
    recorder = _StatementRecorder(
        options.get("on_version_apply"),
        transaction_per_migration=options.get("transaction_per_migration", True),
    )

    engine = make_engine("sqlite://")
    try:
        with engine.connect() as scratch:
            # Online on the scratch database, which starts empty: not from a given revision.
            context_opts.pop("starting_rev", None)
            try:
                if start not in (None, "base"):
                    script = environment.script
                    with _quiet(logging.getLogger("alembic.runtime.migration")):
                        _run(
                            context,
                            scratch,
                            options,
                            fn=lambda heads, _ctx: script._upgrade_revs(start, heads),
                        )
                _run(context, scratch, options, fn=migrations_fn, recorder=recorder)
            finally:
                context_opts["as_sql"] = True  # failures are reported as offline ones
                context_opts["starting_rev"] = start
    finally:
        engine.dispose()
    output.write(recorder.script())


def _run(
    context: Any,
    connection: Connection,
    options: dict[str, Any],
    *,
    fn: Any,
    recorder: _StatementRecorder | None = None,
) -> None:
    from sqlalchemy import event

    run_options = dict(options, transactional_ddl=True)
    if recorder is not None:
        run_options["on_version_apply"] = recorder.revision_done
        event.listen(connection, "before_cursor_execute", recorder.before_execute)
    try:
        context.configure(connection=connection, as_sql=False, fn=fn, **run_options)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if recorder is not None:
            event.remove(connection, "before_cursor_execute", recorder.before_execute)


@contextmanager
def _quiet(logger: logging.Logger) -> Iterator[None]:
    """Bringing the scratch database to the starting revision is not part of the output."""
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled


class _StatementRecorder:
    """The statements that change the scratch database, grouped by revision."""

    def __init__(self, on_version_apply: Any, *, transaction_per_migration: bool) -> None:
        self.on_version_apply = on_version_apply
        self.transaction_per_migration = transaction_per_migration
        self.pending: list[str] = []
        self.parts: list[str] = []

    def before_execute(
        self,
        _conn: Any,
        _cursor: Any,
        statement: str,
        parameters: Any,
        _context: Any,
        executemany: bool,
    ) -> None:
        words = statement.split(None, 1)
        if not words or words[0].upper() in _NOT_PRINTED:
            return
        for params in parameters if executemany else [parameters]:
            sql = _with_literals(statement.strip(), params or ()).replace("\t", "    ")
            self.pending.append(sql + ";")

    def revision_done(self, *, step: Any, **kw: Any) -> None:
        verb = "stamp" if step.is_stamp else "upgrade" if step.is_upgrade else "downgrade"
        source = ", ".join(step.source_revision_ids)
        destination = ", ".join(step.destination_revision_ids)
        statements = "\n\n".join(self.pending)
        if self.transaction_per_migration:
            statements = f"BEGIN;\n\n{statements}\n\nCOMMIT;"
        self.parts.append(f"-- Running {verb} {source} -> {destination}\n\n{statements}")
        self.pending.clear()
        if self.on_version_apply is not None:
            self.on_version_apply(step=step, **kw)

    def script(self) -> str:
        text = "\n\n".join([*self.parts, *self.pending])
        if not self.transaction_per_migration:
            text = f"BEGIN;\n\n{text}\n\nCOMMIT;"
        return text + "\n"


def _with_literals(statement: str, parameters: Any) -> str:
    """``statement`` with each ``?`` outside quotes replaced by its parameter, as a literal."""
    if not parameters:
        return statement
    values = iter(parameters)
    pieces: list[str] = []
    quote: str | None = None
    for char in statement:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"`[":
            quote = "]" if char == "[" else char
        elif char == "?":
            pieces.append(_literal(next(values)))
            continue
        pieces.append(char)
    return "".join(pieces)


def _literal(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "X'" + bytes(value).hex() + "'"
    return "'" + str(value).replace("'", "''") + "'"
