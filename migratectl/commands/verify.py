"""``verify``: prove the migration history on a scratch database, never the configured one.

The checks, in order, each a line of the report:

- ``single_head``: the history has exactly one head (otherwise the rest is skipped);
- ``upgrade``: from an empty database, every revision applies, one at a time;
- ``models_match``: at head, autogenerate finds nothing (no models configured is a failure:
  nothing proves the revisions create what the application uses);
- ``stairway``: from head down, each revision's downgrade restores exactly the schema that
  was there before its upgrade (:mod:`migratectl.commands.verify_schema` says what is
  compared), and its upgrade then runs again to the same schema;
- ``data_kept``: from base up again (once what the stairway left applied is downgraded), with
  one generated row in every table before each step,
  every table the step did not drop still holds rows after it
  (:mod:`migratectl.commands.verify_data`); the rows are deleted again at head;
- ``downgrade_to_base``: once every revision is downgraded, nothing but the version table is
  left (no table, and on PostgreSQL no enum type or sequence either).

A check that cannot run because an earlier one failed is reported as skipped (not ok); one
left out with ``--skip`` is reported as skipped too, and ok.

A multi-database repository's databases each get a scratch twin; every revision runs on all
of them, as ``upgrade`` runs it, and each schema snapshot covers every twin, naming the
database of whatever differs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from migratectl.commands import verify_data
from migratectl.commands.verify_schema import (
    SchemaItem,
    Snapshot,
    describe_difference,
    fingerprint,
    take_snapshot,
)
from migratectl.commands.versioning import downgrade, upgrade
from migratectl.database.engines import run_with_connection, run_with_connections
from migratectl.database.scratch import require_single_database, scratch_databases
from migratectl.errors import MigrationFailed, UsageError
from migratectl.output import Output
from migratectl.repository.comparison import schema_differences
from migratectl.repository.config import (
    build_config,
    in_project,
    is_multidb,
    require_repository,
    script_directory,
)
from migratectl.repository.revisions import revision_files_read_once
from migratectl.repository.state import read_database_heads
from migratectl.repository.translation import translate_errors
from migratectl.settings import Settings

if TYPE_CHECKING:
    from alembic.script import Script
    from sqlalchemy.engine import Connection

# Every check's name, in the order they run; ``--skip`` accepts these.
KNOWN_CHECKS = (
    "single_head",
    "upgrade",
    "models_match",
    "stairway",
    "data_kept",
    "downgrade_to_base",
)


@dataclass
class VerifyCheck:
    name: str
    ok: bool
    detail: str
    skipped: bool = False

    def as_json(self) -> dict[str, Any]:
        detail = f"skipped: {self.detail}" if self.skipped else self.detail
        return {"name": self.name, "ok": self.ok, "detail": detail}


@dataclass
class VerifyResult:
    checks: list[VerifyCheck]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checks": [check.as_json() for check in self.checks]}


@in_project
def verify(
    settings: Settings,
    *,
    scratch_url: str | dict[str, str] | None = None,
    skip: Collection[str] = (),
    output: Output | None = None,
    on_check: Callable[[VerifyCheck], None] | None = None,
) -> VerifyResult:
    """Run the checks on a scratch database and report each one (``on_check`` is called
    with each check as soon as it is known, skipped ones too).

    ``scratch_url``: the default database's scratch database, or a name -> URL mapping for
    the databases of a multi-database repository ("" is the default one). ``skip``: checks
    to leave out (reported as skipped, not failed).
    """
    output = output or Output()
    skipped = validate_skip(skip)
    require_repository(settings)
    settings.require_database_url()
    multidb = is_multidb(settings)
    if not multidb:
        require_single_database(settings)
    explicit = scratch_url if isinstance(scratch_url, dict) else {"": scratch_url}
    explicit = {name: url for name, url in explicit.items() if url}
    config = build_config(settings, output)
    with translate_errors(settings):
        script = script_directory(config)
        heads = list(script.get_heads())
        revisions = [rev for rev in reversed(list(script.walk_revisions())) if rev is not None]

    checks: list[VerifyCheck] = []
    names = check_names()

    def record(*found: VerifyCheck) -> bool:
        """Keep and report ``found``; whether the last one passed."""
        for check in found:
            checks.append(check)
            if on_check is not None:
                on_check(check)
        return checks[-1].ok

    def left_out(name: str) -> VerifyCheck:
        return VerifyCheck(name, True, "left out (--skip)", skipped=True)

    single_head = left_out("single_head") if "single_head" in skipped else _single_head(heads)
    if not single_head.ok or not revisions:
        reason = "needs a single head" if not single_head.ok else "the history has no revisions"
        record(single_head, *_skipped(names[1:], reason, skipped))
        return VerifyResult(checks)
    if "upgrade" in skipped:  # every later check needs the schema the upgrade builds
        record(single_head, left_out("upgrade"), *_skipped(names[2:], "needs upgrade", skipped))
        return VerifyResult(checks)

    with (
        scratch_databases(settings, explicit, output=output, binds=multidb) as urls,
        revision_files_read_once(),
    ):
        record(single_head)  # once the scratch database is accepted: a refusal prints nothing
        scratch = replace(
            settings,
            database_url=urls[""],
            binds={
                name: replace(bind, database_url=urls[name])
                for name, bind in settings.binds.items()
            },
        )
        history = (_AllDatabases if multidb else _SnapshotOnce)(scratch, revisions, output)
        if not record(history.upgrade()):
            record(*_skipped(names[2:], "the upgrade failed", skipped))
            return VerifyResult(checks)
        for name in names[2:]:
            record(left_out(name) if name in skipped else getattr(history, name)())
    return VerifyResult(checks)


def check_names() -> tuple[str, ...]:
    """The checks verify runs, in order (those of KNOWN_CHECKS this version has)."""
    return tuple(
        name
        for name in KNOWN_CHECKS
        if name in ("single_head", "upgrade") or hasattr(_History, name)
    )


def validate_skip(skip: Collection[str]) -> set[str]:
    """The ``--skip`` names as a set; an unknown one is a usage error with the closest name."""
    import difflib

    for name in skip:
        if name not in KNOWN_CHECKS:
            close = difflib.get_close_matches(name, KNOWN_CHECKS, n=1)
            guess = f' Did you mean "{close[0]}"?' if close else ""
            raise UsageError(
                f'verify has no check "{name}".{guess}',
                hint="--skip takes one of: " + ", ".join(KNOWN_CHECKS) + ".",
            )
    return set(skip)


def _single_head(heads: list[str]) -> VerifyCheck:
    if len(heads) == 1:
        return VerifyCheck("single_head", True, f"one head: {heads[0]}")
    if not heads:
        return VerifyCheck(
            "single_head", False, "the repository has no revisions (run `migratectl migrate`)"
        )
    return VerifyCheck(
        "single_head",
        False,
        f"{len(heads)} heads: {', '.join(heads)} (join them: migratectl merge heads)",
    )


def _skipped(names: tuple[str, ...], reason: str, left_out: set[str]) -> list[VerifyCheck]:
    """The checks that cannot run (not ok), but those the user left out (ok)."""
    return [
        VerifyCheck(name, True, "left out (--skip)", skipped=True)
        if name in left_out
        else VerifyCheck(name, False, reason, skipped=True)
        for name in names
    ]


# --------------------------------------------------------------------------- the history


class _History:
    """The revisions, applied and reverted one at a time on the scratch database."""

    def __init__(self, settings: Settings, revisions: list[Script], output: Output) -> None:
        self.settings = settings
        self.url = settings.require_database_url()
        self.revisions = revisions  # base to head, each after all its ancestors
        self.applied = 0  # revisions[:applied] are in the scratch database
        self.output = Output(quiet=True, verbose=output.verbose)
        self.output.secrets = output.secrets
        self.shown = output  # the user's: a bar over the steps on a terminal
        self.version_table = settings.configure.get("version_table", "alembic_version")
        # before[i]: the schema before revisions[i] is applied; after[i]: with it applied.
        self.before: list[Snapshot] = []
        self.after: list[Snapshot] = []
        self.seen: dict[str, Snapshot] = {}  # fingerprint -> the snapshot of that state

    def snapshot(self) -> Snapshot:
        """The schema now. A state whose fingerprint was seen before is that state's snapshot
        again (equal fingerprints, equal snapshots: verify_schema.fingerprint); any other is
        reflected in full."""

        def read(connection: Connection) -> Snapshot:
            key = fingerprint(connection)
            if key is not None and key in self.seen:
                return self.seen[key]
            found = take_snapshot(connection, self.version_table)
            if key is not None:
                self.seen[key] = found
            return found

        return run_with_connection(self.url, read, readonly=True)

    def apply(self, index: int) -> None:
        upgrade(self.settings, self.revisions[index].revision, no_lock=True, output=self.output)
        self.applied = index + 1

    def revert(self, index: int) -> None:
        from alembic.util import to_tuple

        rev = self.revisions[index]
        # Only this revision: "rev@-1" steps its own branch back; a merge steps back to one of
        # its parents (the relative form is ambiguous there).
        target = to_tuple(rev.down_revision)[0] if rev.is_merge_point else f"{rev.revision}@-1"
        downgrade(self.settings, target, no_lock=True, output=self.output)
        self.applied = index

    @contextmanager
    def steps(self, description: str) -> Iterator[Callable[[], None]]:
        """A progress bar over the revisions on a terminal (nothing elsewhere)."""
        if len(self.revisions) < 2 or not self.shown.shows_progress():
            yield lambda: None
            return
        with self.shown.progress(len(self.revisions), description) as advance:
            yield advance

    def upgrade(self) -> VerifyCheck:
        with self.steps("verify: upgrade") as advance:
            for index, rev in enumerate(self.revisions):
                self.before.append(self.snapshot())
                failure = _attempt(self.apply, index)
                if failure:
                    return VerifyCheck("upgrade", False, f"{_name(rev)}: upgrade raised {failure}")
                if index == 0:
                    self._require_scratch_at(rev.revision)
                self.after.append(self.snapshot())
                advance()
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

    def models_match(self) -> VerifyCheck:
        if not self.settings.models:
            return VerifyCheck(
                "models_match",
                False,
                "no models are configured, so nothing proves the revisions create them "
                "(set models, or pass --models)",
            )
        differences = schema_differences(self.settings, self.output)
        if differences:
            return VerifyCheck(
                "models_match",
                False,
                "the models differ from the schema at head: " + "; ".join(differences),
            )
        return VerifyCheck("models_match", True, "the schema at head matches the models")

    def stairway(self) -> VerifyCheck:
        with self.steps("verify: stairway") as advance:
            for index in reversed(range(len(self.revisions))):
                problem = self._stair(index)
                if problem:
                    name = _name(self.revisions[index])
                    return VerifyCheck("stairway", False, f"{name}: {problem}")
                advance()
        return VerifyCheck(
            "stairway", True, f"{len(self.revisions)} revision(s) downgraded and upgraded again"
        )

    def _stair(self, index: int) -> str | None:
        """Down, up and down again over revisions[index]; what went wrong, or None."""
        failure = _attempt(self.revert, index)
        if failure:
            return f"downgrade raised {failure}"
        left = self.snapshot()
        if left != self.before[index]:
            return "downgrade does not undo it: " + describe_difference(self.before[index], left)
        failure = _attempt(self.apply, index)
        if failure:
            return f"upgrade after its downgrade raised {failure}"
        again = self.snapshot()
        if again != self.after[index]:
            difference = describe_difference(self.after[index], again)
            return f"upgrade after its downgrade gives another schema: {difference}"
        failure = _attempt(self.revert, index)
        return f"second downgrade raised {failure}" if failure else None

    def data_kept(self) -> VerifyCheck:
        """Base to head again, a row in every table before each step; at head the rows are
        deleted, for the downgrades to run on empty tables as in the stairway."""
        unready = self._back_at_base()
        if unready:
            return VerifyCheck("data_kept", False, unready, skipped=True)
        refused: dict[str, str] = {}
        try:
            with self.steps("verify: data_kept") as advance:
                for index, rev in enumerate(self.revisions):
                    problem = self._keep_rows(index, refused)
                    if problem:
                        return VerifyCheck("data_kept", False, f"{_name(rev)}: {problem}")
                    advance()
        finally:
            self._empty(self.snapshot().tables)
        detail = f"{len(self.revisions)} revision(s) applied with a row in every table"
        if refused:
            detail += f" but {len(refused)}; every table with rows kept them; "
            detail += "no row could be put into " + "; ".join(
                f"table {name} ({reason})" for name, reason in sorted(refused.items())
            )
        else:
            detail += "; every table kept its rows"
        return VerifyCheck("data_kept", True, detail)

    def _back_at_base(self) -> str | None:
        """Downgrade what is still applied (nothing after a passing stairway); why the walk
        from base cannot start, or None."""
        for index in reversed(range(self.applied)):
            failure = _attempt(self.revert, index)
            if failure:
                name = _name(self.revisions[index])
                return f"needs the history downgraded to base: {name}: downgrade raised {failure}"
        left = self.snapshot()
        if left != self.before[0]:
            return f"needs an empty schema at base: {describe_difference(self.before[0], left)}"
        return None

    def _keep_rows(self, index: int, refused: dict[str, str]) -> str | None:
        """Fill the empty tables, apply revisions[index], check the rows; what went wrong."""
        before, after = self.before[index], self.after[index]
        had = {name for name, count in self._rows(before.tables, refused).items() if count}
        failure = _attempt(self.apply, index)
        if failure:
            return f"upgrade raised {failure} with a row in every table"
        counts = self._rows(after.tables)
        renames = {
            old + suffix: new + suffix
            for old, new in verify_data.renames_in(self.revisions[index].path).items()
            for suffix in self._suffixes()
        }
        lost = verify_data.rows_lost(before, after, had, counts, renames)
        return "; ".join(lost) or None

    def _suffixes(self) -> dict[str, str]:
        """How each database's tables end in a snapshot (`` in database 'x'``) -> its URL."""
        urls: dict[str, str] = getattr(self, "urls", None) or {"": self.url}
        return {f" in {database_name(name)}" if name else "": url for name, url in urls.items()}

    def _rows(self, tables: Iterable[str], refused: dict[str, str] | None = None) -> dict[str, int]:
        return verify_data.rows_in_databases(self._suffixes(), tables, refused)

    def _empty(self, tables: Iterable[str]) -> None:
        verify_data.empty_databases(self._suffixes(), tables)

    def downgrade_to_base(self) -> VerifyCheck:
        # After a passing stairway this is already base; after a failing one, carry on down.
        for index in reversed(range(self.applied)):
            failure = _attempt(self.revert, index)
            if failure:
                detail = f"{_name(self.revisions[index])}: downgrade raised {failure}"
                return VerifyCheck("downgrade_to_base", False, detail)
        left = self.snapshot()
        if left:
            detail = describe_difference(Snapshot(), left)
            return VerifyCheck("downgrade_to_base", False, detail)
        return VerifyCheck(
            "downgrade_to_base", True, "nothing but the version table is left at base"
        )


def _attempt(step: Callable[[int], None], index: int) -> str | None:
    """Run a step; the revision's error ("RuntimeError: boom") when it raises, else None."""
    try:
        step(index)
    except MigrationFailed as exc:
        cause = exc.__cause__ or exc
        text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
        found = f"{type(cause).__name__}: {text}" if text else type(cause).__name__
        # A multi-database run names the database the revision failed in.
        database = re.match(r"In database ('.*?'|\(default\)): ", exc.message)
        if database:
            name = database.group(1)
            where = "the default database" if name == "(default)" else f"database {name}"
            found += f" (in {where})"
        return found
    return None


def _name(rev: Script) -> str:
    message = (rev.doc or "").strip()
    return f"revision {rev.revision} ({message})" if message else f"revision {rev.revision}"


class _SnapshotOnce(_History):
    """The history, with each state of the schema reflected once: the snapshot after one
    step is the one before the next, and only a step (``apply`` / ``revert``) changes it."""

    _current: Snapshot | None = None

    def snapshot(self) -> Snapshot:
        if self._current is None:
            self._current = super().snapshot()
        return self._current

    def apply(self, index: int) -> None:
        self._current = None  # also when the step fails half-way
        super().apply(index)

    def revert(self, index: int) -> None:
        self._current = None
        super().revert(index)


class _Databases(_History):
    """The history of a multi-database repository: each step runs on every database's scratch
    twin, and a snapshot covers all of them, each object naming its database."""

    def __init__(self, settings: Settings, revisions: list[Script], output: Output) -> None:
        super().__init__(settings, revisions, output)
        self.urls = settings.all_database_urls()

    def snapshot(self) -> Snapshot:
        def take(connections: dict[str, Connection]) -> Snapshot:
            return Snapshot(
                frozenset(
                    _in_database(item, name)
                    for name, connection in connections.items()
                    for item in take_snapshot(connection, self.version_table).items
                )
            )

        return run_with_connections(self.urls, take, readonly=True)


class _AllDatabases(_SnapshotOnce, _Databases):
    """Every database's twin, each state of their schemas reflected once."""


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


def database_name(name: str) -> str:
    """How a check's detail names one database of a multi-database repository."""
    return f"database {name!r}" if name else "the default database"
