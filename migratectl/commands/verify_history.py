"""The history ``verify`` walks on its scratch databases: the revisions applied and reverted
one at a time, each check a plan of steps (:mod:`migratectl.commands.verify_steps`), each
state of the schema read once (:mod:`migratectl.commands.verify_fingerprint`).

A multi-database repository's snapshot covers every database's twin, each object naming its
database (``table events in database 'analytics'``); the default database's keep their names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from migratectl.commands import verify_data
from migratectl.commands.verify_fingerprint import SnapshotReader
from migratectl.commands.verify_schema import (
    SchemaItem,
    Snapshot,
    TableShape,
    describe_difference,
)
from migratectl.commands.verify_steps import (
    CommandSteps,
    NotForOneRun,
    Plan,
    Reset,
    Step,
    Steps,
)
from migratectl.errors import UsageError
from migratectl.output import Output
from migratectl.repository.comparison import schema_differences
from migratectl.repository.state import read_database_heads
from migratectl.settings import Settings

if TYPE_CHECKING:
    from alembic.script import Script
    from sqlalchemy.engine import Connection

T = TypeVar("T")


@dataclass
class VerifyCheck:
    name: str
    ok: bool
    detail: str
    skipped: bool = False

    def as_json(self) -> dict[str, Any]:
        detail = f"skipped: {self.detail}" if self.skipped else self.detail
        return {"name": self.name, "ok": self.ok, "detail": detail}


class History:
    """The revisions (base to head, each after all its ancestors) on the scratch databases of
    ``settings``, stepped by ``steps``."""

    def __init__(
        self, settings: Settings, revisions: list[Script], output: Output, steps: Steps
    ) -> None:
        self.settings = settings
        self.revisions = revisions
        self.applied = 0  # revisions[:applied] are in the scratch databases
        self.steps = steps
        self.shown = output  # the user's: a bar over the steps on a terminal
        version_table = settings.configure.get("version_table", "alembic_version")
        urls = settings.all_database_urls()
        # Outlines where a rebuilt state costs one database's steps only.
        self.readers = {
            name: SnapshotReader(version_table, outlines=len(urls) == 1) for name in urls
        }
        # before[i]: the schema before revisions[i] is applied; after[i]: with it applied.
        self.before: list[Snapshot] = []
        self.after: list[Snapshot] = []
        self._current: Snapshot | None = None  # the schema now; None once a step was asked for
        self._counts: dict[str, int] | None = None  # data_kept: the rows after the last step
        self.rows_with_upgrade = True  # data_kept's rows put in on the upgrade's walk
        self.kept: VerifyCheck | None = None  # data_kept, once found

    def run(self, make_plan: Callable[[], Plan[T]]) -> T:
        """The plan's result, its steps taken by ``steps``; an env.py that keeps all the
        revisions in one transaction of its own gets a command per step."""
        try:
            return self.steps.run(make_plan())
        except NotForOneRun:
            self.steps = CommandSteps(self.steps.settings, self.revisions, self.steps.output)
            return self.steps.run(make_plan())

    # ------------------------------------------------------------------ reading, stepping

    def snapshot(self) -> Snapshot:
        """The schema now (read once per state; see SnapshotReader for how much of it)."""
        if self._current is None:
            self._current = self.steps.read(
                lambda connections: _combined(
                    {name: self.readers[name].read(c) for name, c in connections.items()}
                )
            )
        return self._current

    def full_snapshot(self) -> Snapshot:
        """The schema now, reflected in full."""
        self._current = self.steps.read(
            lambda connections: _combined(
                {name: self.readers[name].read_in_full(c) for name, c in connections.items()}
            )
        )
        return self._current

    def _difference(self, reference: Snapshot, rebuild: list[Step], back: list[Step]) -> Plan[str]:
        """How the schema now differs from ``reference`` ("" where it does not). Where one of
        them was read from its fingerprint alone, both are read in full: the reference state
        rebuilt from an empty database by the steps ``rebuild``, then the state now again by
        ``back``."""
        now = self.snapshot()
        if reference.key is not None and reference.key == now.key:
            return ""
        if not (now.complete and reference.complete):
            now = self.full_snapshot()
            if not reference.complete:
                failure = yield from self._rebuild(rebuild)
                if failure:
                    return f"(rebuilding the schema it should have, to compare: {failure})"
                reference = self.full_snapshot()
                failure = yield from self._rebuild(back)
                if failure:
                    return f"(rebuilding it after the comparison: {failure})"
        return "" if now == reference else describe_difference(reference, now)

    def _rebuild(self, steps: list[Step]) -> Plan[str | None]:
        """Empty the scratch databases and take ``steps``; the error of one that fails."""
        yield Reset()
        self.applied, self._current = 0, None
        for step in steps:
            taken = self.apply(step.index) if step.upgrade else self.revert(step.index)
            failure = yield from taken
            if failure:
                return failure
        return None

    def _leftovers(self) -> Snapshot:
        """The schema now, in full (at base: all but the version table left behind)."""
        now = self.snapshot()
        if now.complete:
            return now
        if now.key is not None and now.key == self.before[0].key and self.before[0].complete:
            return self.before[0]
        return self.full_snapshot()

    def apply(self, index: int) -> Plan[str | None]:
        """Step revisions[index] up; its error, or None."""
        self._current = None  # also when the step fails half-way
        failure = yield Step(index, upgrade=True)
        if failure is None:
            self.applied = index + 1
        return failure

    def revert(self, index: int) -> Plan[str | None]:
        """Step revisions[index] down (only it); its error, or None."""
        self._current = None
        failure = yield Step(index, upgrade=False)
        if failure is None:
            self.applied = index
        return failure

    @contextmanager
    def progress(self, description: str) -> Iterator[Callable[[], None]]:
        """A progress bar over the revisions on a terminal (nothing elsewhere)."""
        if len(self.revisions) < 2 or not self.shown.shows_progress():
            yield lambda: None
            return
        with self.shown.progress(len(self.revisions), description) as advance:
            yield advance

    # ------------------------------------------------------------------ the checks

    def upgrade(self) -> Plan[VerifyCheck]:
        """Base to head, one revision at a time. With ``rows_with_upgrade`` this is data_kept's
        walk too: a row in every table before each step, every table the step did not drop
        still holding rows after it. A step that fails with the rows is taken again from an
        empty database, with no rows, so that the upgrade check stays that of an empty
        database; data_kept then fails, and the walk goes on without rows."""
        watch = self.rows_with_upgrade
        refused: dict[str, str] = {}
        with self.progress("verify: upgrade") as advance:
            for index, rev in enumerate(self.revisions):
                before = self.snapshot()
                self.before.append(before)
                watching = watch and self.kept is None
                # No row before the first step has shown that env.py migrates the scratch
                # database (_require_scratch_at): base has no table to fill anyway.
                had = self._fill(before, refused) if watching and index else set()
                failure = yield from self.apply(index)
                if failure and had:
                    detail = f"{_name(rev)}: upgrade raised {failure} with a row in every table"
                    self.kept = VerifyCheck("data_kept", False, detail)
                    # Again from an empty database: what the failed step left (MySQL's DDL
                    # commits as it goes) and the rows are gone.
                    up_to = [Step(j, upgrade=True) for j in range(index)]
                    failure = yield from self._rebuild([*up_to, Step(index, upgrade=True)])
                if failure:
                    return VerifyCheck("upgrade", False, f"{_name(rev)}: upgrade raised {failure}")
                if index == 0:
                    self._require_scratch_at(rev.revision)
                after = self.snapshot()
                self.after.append(after)
                if watching and self.kept is None:
                    problem = self._lost(index, before, after, had)
                    if problem:
                        self.kept = VerifyCheck("data_kept", False, f"{_name(rev)}: {problem}")
                        self._delete_rows(after.tables)
                advance()
        if watch and self.kept is None:
            self.kept = self._kept(refused)
            self._delete_rows(self.after[-1].tables)  # the stairway's downgrades: empty tables
        return VerifyCheck(
            "upgrade", True, f"{len(self.revisions)} revision(s) applied one at a time"
        )

    def _require_scratch_at(self, revision: str) -> None:
        """Stop before any downgrade if env.py migrated some other database than the scratch
        one (an env.py that builds its own engine): the stairway would empty that database."""
        if read_database_heads(self.settings) != [revision]:
            raise UsageError(
                f"env.py did not migrate the scratch database: after upgrading to {revision} "
                "it is still empty, so env.py connects to a database of its own.",
                hint="Let env.py call migratectl.runtime.run_migrations(context) without "
                "choosing the database itself; verify stopped before any downgrade.",
            )
        self.steps.scratch_confirmed()

    def models_match(self) -> VerifyCheck:
        if not self.settings.models:
            return VerifyCheck(
                "models_match",
                False,
                "no models are configured, so nothing proves the revisions create them "
                "(set models, or pass --models)",
            )
        differences = schema_differences(self.settings, self.steps.output)
        if differences:
            return VerifyCheck(
                "models_match",
                False,
                "the models differ from the schema at head: " + "; ".join(differences),
            )
        return VerifyCheck("models_match", True, "the schema at head matches the models")

    def stairway(self) -> Plan[VerifyCheck]:
        with self.progress("verify: stairway") as advance:
            for index in reversed(range(len(self.revisions))):
                problem = yield from self._stair(index)
                if problem:
                    name = _name(self.revisions[index])
                    return VerifyCheck("stairway", False, f"{name}: {problem}")
                advance()
        return VerifyCheck(
            "stairway", True, f"{len(self.revisions)} revision(s) downgraded and upgraded again"
        )

    def _stair(self, index: int) -> Plan[str | None]:
        """Down, up and down again over revisions[index]; what went wrong, or None."""
        failure = yield from self.revert(index)
        if failure:
            return f"downgrade raised {failure}"
        up_to = [Step(j, upgrade=True) for j in range(index + 1)]  # from empty: after[index]
        down = Step(index, upgrade=False)
        problem = yield from self._difference(self.before[index], up_to[:-1], [*up_to, down])
        if problem:
            return "downgrade does not undo it: " + problem
        failure = yield from self.apply(index)
        if failure:
            return f"upgrade after its downgrade raised {failure}"
        back = [*up_to, down, Step(index, upgrade=True)]
        problem = yield from self._difference(self.after[index], up_to, back)
        if problem:
            return f"upgrade after its downgrade gives another schema: {problem}"
        failure = yield from self.revert(index)
        return f"second downgrade raised {failure}" if failure else None

    def downgrade_to_base(self) -> Plan[VerifyCheck]:
        """Every revision still applied downgraded (none after a passing stairway, whose
        last downgrades walked the history down to base), and nothing left at base."""
        for index in reversed(range(self.applied)):
            failure = yield from self.revert(index)
            if failure:
                detail = f"{_name(self.revisions[index])}: downgrade raised {failure}"
                return VerifyCheck("downgrade_to_base", False, detail)
        left = self._leftovers()
        if left:
            return VerifyCheck("downgrade_to_base", False, describe_difference(Snapshot(), left))
        return VerifyCheck(
            "downgrade_to_base", True, "nothing but the version table is left at base"
        )

    def data_kept(self) -> VerifyCheck:
        """Found on the upgrade's walk (see :meth:`upgrade`)."""
        assert self.kept is not None, "data_kept is found by upgrade(rows_with_upgrade=True)"
        return self.kept

    def _kept(self, refused: dict[str, str]) -> VerifyCheck:
        detail = f"{len(self.revisions)} revision(s) applied with a row in every table"
        if refused:
            detail += f" but {len(refused)}; every table with rows kept them; "
            detail += "no row could be put into " + "; ".join(
                f"table {name} ({reason})" for name, reason in sorted(refused.items())
            )
        else:
            detail += "; every table kept its rows"
        return VerifyCheck("data_kept", True, detail)

    def _fill(self, before: Snapshot, refused: dict[str, str]) -> set[str]:
        """A row into every empty table of ``before`` (the state now); the tables with rows."""
        known, self._counts = self._counts, None  # the counts after the step before
        counts = self._rows(before.tables, refused, known, before.shapes)
        return {name for name, count in counts.items() if count}

    def _lost(self, index: int, before: Snapshot, after: Snapshot, had: set[str]) -> str | None:
        """Which of the tables ``had`` (rows before revisions[index]) lost them."""
        counts = self._counts = self._rows(after.tables)
        renames = {
            old + suffix: new + suffix
            for old, new in verify_data.renames_in(self.revisions[index].path).items()
            for suffix in self._suffixes()
        }
        lost = verify_data.rows_lost(before, after, had, counts, renames)
        return "; ".join(lost) or None

    def _delete_rows(self, tables: Iterable[str]) -> None:
        suffixes = self._suffixes()
        self._counts = None

        def delete(connections: dict[str, Connection]) -> None:
            by_suffix = {suffix: connections[name] for suffix, name in suffixes.items()}
            verify_data.delete_rows(by_suffix, tables)

        self.steps.read(delete)

    def _suffixes(self) -> dict[str, str]:
        """How each database's tables end in a snapshot (`` in database 'x'``) -> its name."""
        return {_suffix(name): name for name in self.readers}

    def _rows(
        self,
        tables: Iterable[str],
        refused: dict[str, str] | None = None,
        known: dict[str, int] | None = None,
        shapes: Mapping[str, TableShape] | None = None,
    ) -> dict[str, int]:
        suffixes = self._suffixes()

        def count(connections: dict[str, Connection]) -> dict[str, int]:
            by_suffix = {suffix: connections[name] for suffix, name in suffixes.items()}
            return verify_data.rows_in_databases(by_suffix, tables, refused, known, shapes)

        return self.steps.read(count)


def _combined(read: dict[str, Snapshot]) -> Snapshot:
    """One snapshot of every database's (name -> its snapshot), each object naming its
    database; read from fingerprints alone if one of them is."""
    if list(read) == [""]:
        return read[""]
    keys = [snapshot.key for snapshot in read.values()]
    key = "\x1e".join(k for k in keys if k) if all(keys) else None
    if all(snapshot.complete for snapshot in read.values()):
        return Snapshot(
            frozenset(
                _in_database(item, name)
                for name, snapshot in read.items()
                for item in snapshot.items
            ),
            {
                table + _suffix(name): shape
                for name, snapshot in read.items()
                for table, shape in snapshot.shapes.items()
            },
            key=key,
        )
    outline = {
        table + _suffix(name): snapshot.columns(table)
        for name, snapshot in read.items()
        for table in snapshot.tables
    }
    return Snapshot(key=key, outline=outline)


def _name(rev: Script) -> str:
    message = (rev.doc or "").strip()
    return f"revision {rev.revision} ({message})" if message else f"revision {rev.revision}"


def _in_database(item: SchemaItem, name: str) -> SchemaItem:
    """``item`` of database ``name``: its table (or type) named ``events in database
    'analytics'``; the default database's keep their own names."""
    if not name:
        return item
    where = f" in {database_name(name)}"
    table = f"{item.table}{where}" if item.table is not None else None
    key = f"{item.key}{where}" if item.kind == "table" or item.table is None else item.key
    attributes = tuple(
        (k, v.replace(".", f"{where}.", 1) if k == "owner" else v) for k, v in item.attributes
    )
    return SchemaItem(table, item.kind, key, attributes)


def _suffix(name: str) -> str:
    return f" in {database_name(name)}" if name else ""


def database_name(name: str) -> str:
    """How a check's detail names one database of a multi-database repository."""
    return f"database {name!r}" if name else "the default database"
