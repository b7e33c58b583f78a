"""How ``verify`` takes its steps: each check is a *plan*, a generator that yields the
:class:`Step` it wants taken next (one revision up or down) and is sent back None when the
step went through, or the revision's error ("RuntimeError: boom"); it returns its result.
Between steps a plan reads the scratch databases through :meth:`Steps.read`.

Two ways of taking them:

- :class:`OneRun`: every step of a plan in a single run of env.py, on its one connection,
  the plan running between Alembic's steps (Alembic asks for each step only once the one
  before has committed). A step that fails ends that run; the plan is told and goes on in a
  new one. This is what a repository with one database gets.
- :class:`CommandSteps`: each step an ``upgrade`` / ``downgrade`` command of its own, every
  read on connections of its own: a multi-database repository (each step runs on every
  database's twin, as ``upgrade`` runs it), and an env.py that runs all revisions in one
  transaction of its own (a plan's reads and rows would be part of it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from migratectl.commands.versioning import downgrade, upgrade
from migratectl.database.engines import run_with_connection, run_with_connections
from migratectl.database.scratch import drop_everything
from migratectl.errors import MigrationFailed, UsageError
from migratectl.output import Output
from migratectl.repository.config import alembic_logging, build_config
from migratectl.repository.translation import translate_errors
from migratectl.settings import Settings

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory
    from sqlalchemy.engine import Connection

T = TypeVar("T")


@dataclass(frozen=True)
class Step:
    index: int  # into the revisions, base to head
    upgrade: bool


@dataclass(frozen=True)
class Reset:
    """Empty the scratch databases, the version table too (a plan rebuilding a state)."""


Plan = Generator["Step | Reset", "str | None", T]


def failure_text(exc: MigrationFailed) -> str:
    """The revision's error ("RuntimeError: boom"); in a multi-database run, with the
    database it failed in."""
    cause = exc.__cause__ or exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    found = f"{type(cause).__name__}: {text}" if text else type(cause).__name__
    database = re.match(r"In database ('.*?'|\(default\)): ", exc.message)
    if database:
        name = database.group(1)
        where = "the default database" if name == "(default)" else f"database {name}"
        found += f" (in {where})"
    return found


class Steps:
    """Takes the steps of plans over ``revisions`` on the databases of ``settings``."""

    def __init__(self, settings: Settings, revisions: list[Script], output: Output) -> None:
        self.settings = settings
        self.revisions = revisions
        self.output = output  # quiet: the steps print nothing of their own

    def run(self, plan: Plan[T]) -> T:
        raise NotImplementedError

    def read(self, work: Callable[[dict[str, Connection]], T]) -> T:
        """``work`` called with a connection to each database (name -> connection, "" the
        default one); its commits are its own."""
        raise NotImplementedError

    def scratch_confirmed(self) -> None:
        """The steps were seen to run on the scratch databases (not the configured ones)."""


class CommandSteps(Steps):
    def run(self, plan: Plan[T]) -> T:
        try:
            step = next(plan)
            while True:
                step = plan.send(self._take(step))
        except StopIteration as done:
            result: T = done.value
            return result

    def _take(self, step: Step | Reset) -> str | None:
        from alembic.util import to_tuple

        if isinstance(step, Reset):
            for url in self.settings.all_database_urls().values():
                run_with_connection(url, drop_everything, readonly=False)
            return None

        rev = self.revisions[step.index]
        try:
            if step.upgrade:
                upgrade(self.settings, rev.revision, no_lock=True, output=self.output)
            else:
                # Only this revision: "rev@-1" steps its own branch back; a merge steps back
                # to one of its parents (the relative form is ambiguous there).
                down = to_tuple(rev.down_revision)[0] if rev.is_merge_point else None
                target = down or f"{rev.revision}@-1"
                downgrade(self.settings, target, no_lock=True, output=self.output)
        except MigrationFailed as exc:
            return failure_text(exc)
        return None

    def read(self, work: Callable[[dict[str, Connection]], T]) -> T:
        return run_with_connections(self.settings.all_database_urls(), work, readonly=False)


class NotForOneRun(Exception):
    """env.py runs the revisions in a transaction of its own: take the steps one by one."""


class OneRun(Steps):
    def __init__(
        self,
        settings: Settings,
        revisions: list[Script],
        output: Output,
        script: ScriptDirectory,
    ) -> None:
        super().__init__(settings, revisions, output)
        self.script = script
        self.connection: Connection | None = None
        self._durable = True  # until the steps are seen to run on the scratch database

    def scratch_confirmed(self) -> None:
        self._durable = False
        if self.connection is not None:
            _without_durability(self.connection)

    def run(self, plan: Plan[T]) -> T:
        self._plan = plan
        self._started = False
        self._request: Step | Reset | None = None
        self._outcome: str | None = None
        self._in_step = False
        self._done = False
        self._result: T | None = None
        self._error: BaseException | None = None
        self._refused = False
        self._restart = False
        while not self._done:
            try:
                self._run_env()
            except MigrationFailed as exc:
                if not self._in_step:
                    raise
                self._outcome, self._request, self._in_step = failure_text(exc), None, False
                continue
            if self._error is not None:
                raise self._error
            if self._restart:
                self._restart = False
                continue
            if self._refused or not self._done:  # not a run of env.py that can serve
                if self._started:
                    raise UsageError(
                        "env.py stopped running the revisions while verify walked them.",
                        hint="Let env.py call migratectl.runtime.run_migrations(context).",
                    )
                raise NotForOneRun
        return self._result  # type: ignore[return-value]

    def _run_env(self) -> None:
        from alembic.runtime.environment import EnvironmentContext

        config = build_config(self.settings, self.output, writes=True)
        with (
            translate_errors(self.settings),
            alembic_logging(self.output, config),
            EnvironmentContext(config, self.script, fn=self._steps),
        ):
            self.script.run_env()

    def _steps(self, _heads: Any, context: Any) -> Iterator[Any]:
        from alembic.runtime.migration import MigrationStep

        if getattr(context, "_transaction", None) is not None or context.connection is None:
            self._refused = True  # an outer transaction: the plan's commits would end it
            return
        self.connection = context.connection
        if not self._durable:
            _without_durability(self.connection)
        while True:
            if self._request is None:
                try:
                    if self._started:
                        self._request = self._plan.send(self._outcome)
                    else:
                        self._started = True
                        self._request = next(self._plan)
                except StopIteration as done:
                    self._done, self._result = True, done.value
                    return
                except BaseException as exc:  # the plan's own error: raised after the run
                    self._done, self._error = True, exc
                    return
                self._outcome = None
            if isinstance(self._request, Reset):
                drop_everything(self.connection)
                self._request, self._restart = None, True
                return  # Alembic's heads are gone: the plan goes on in a run of env.py anew
            rev = self.revisions[self._request.index]
            self._in_step = True
            if self._request.upgrade:
                yield MigrationStep.upgrade_from_script(self.script.revision_map, rev)
            else:
                yield MigrationStep.downgrade_from_script(self.script.revision_map, rev)
            self._in_step = False
            self._request = None

    def read(self, work: Callable[[dict[str, Connection]], T]) -> T:
        assert self.connection is not None, "only between the steps of a run"
        return work({"": self.connection})


def _without_durability(connection: Connection) -> None:
    """A scratch database's commits need not outlive a crash of the machine: don't wait for
    the disk (the database stays whole if migratectl itself dies)."""
    from sqlalchemy.exc import DBAPIError

    name = connection.dialect.name
    if name not in ("sqlite", "postgresql"):
        return
    try:
        if connection.in_transaction():
            connection.commit()  # SQLite changes it outside a transaction only
        if name == "sqlite":
            # Past SQLAlchemy, whose BEGIN (engines: transactional DDL) would come first.
            cursor = connection.connection.cursor()
            try:
                cursor.execute("PRAGMA synchronous = OFF")
            finally:
                cursor.close()
        else:
            connection.exec_driver_sql("SET synchronous_commit = off")
            connection.commit()
    except DBAPIError:
        connection.rollback()
