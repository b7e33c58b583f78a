"""``verify``: prove the migration history on a scratch database, never the configured one.

The checks, in order, each a line of the report:

- ``single_head``: the history has exactly one head (otherwise the rest is skipped);
- ``upgrade``: from an empty database, every revision applies, one at a time;
- ``models_match``: at head, autogenerate finds nothing (no models configured is a failure:
  nothing proves the revisions create what the application uses);
- ``stairway``: from head down, each revision's downgrade restores exactly the schema that
  was there before its upgrade (:mod:`migratectl.commands.verify_schema` says what is
  compared), its upgrade then runs again to the same schema, and its downgrade once more;
- ``data_kept``: on the upgrade's walk from base, with one generated row in every table
  before each step, every table the step did not drop still holds rows after it
  (:mod:`migratectl.commands.verify_data`). A step that fails with the rows is taken again
  from an empty database without them (the upgrade check is that of an empty database); the
  rows are deleted at head, before the stairway;
- ``downgrade_to_base``: once every revision is downgraded (by the stairway's last
  downgrades, or whatever a failed or skipped stairway left), nothing but the version table
  is left (no table, and on PostgreSQL no enum type or sequence either).

A check that cannot run because an earlier one failed is reported as skipped (not ok); one
left out with ``--skip`` is reported as skipped too, and ok.

A multi-database repository's databases each get a scratch twin; every revision runs on all
of them, as ``upgrade`` runs it, and each schema snapshot covers every twin, naming the
database of whatever differs.

The steps of a repository with one database are all taken in a run of env.py per check, on
one connection (:mod:`migratectl.commands.verify_steps`); see
:mod:`migratectl.commands.verify_history` for the walk itself.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from typing import Any

from migratectl.commands.verify_history import History, VerifyCheck
from migratectl.commands.verify_steps import CommandSteps, OneRun
from migratectl.database.scratch import require_single_database, scratch_databases
from migratectl.errors import UsageError
from migratectl.output import Output
from migratectl.repository.config import (
    build_config,
    in_project,
    is_multidb,
    require_repository,
    script_directory,
)
from migratectl.repository.revisions import revision_files_read_once
from migratectl.repository.translation import translate_errors
from migratectl.settings import Settings

__all__ = ["KNOWN_CHECKS", "VerifyCheck", "VerifyResult", "check_names", "verify"]

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
        quiet = Output(quiet=True, verbose=output.verbose)
        quiet.secrets = output.secrets
        if multidb:
            steps: CommandSteps | OneRun = CommandSteps(scratch, revisions, quiet)
        else:
            # Alembic's own commit after each revision, none around them all: the walk reads
            # and writes rows between the steps (the scratch database, so nothing else).
            configure = {**scratch.configure, "transaction_per_migration": True}
            steps = OneRun(replace(scratch, configure=configure), revisions, quiet, script)
        history = History(scratch, revisions, output, steps)
        history.rows_with_upgrade = "data_kept" not in skipped
        if not record(history.run(history.upgrade)):
            record(*_skipped(names[2:], "the upgrade failed", skipped))
            return VerifyResult(checks)
        for name in names[2:]:  # each reported as it completes (data_kept: found already)
            record(_check(history, name, skipped))
    return VerifyResult(checks)


def check_names() -> tuple[str, ...]:
    """The checks verify runs, in order (those of KNOWN_CHECKS this version has)."""
    return tuple(
        name
        for name in KNOWN_CHECKS
        if name in ("single_head", "upgrade") or hasattr(History, name)
    )


def _check(history: History, name: str, skipped: set[str]) -> VerifyCheck:
    if name in skipped:
        return VerifyCheck(name, True, "left out (--skip)", skipped=True)
    if name == "models_match":  # a comparison of its own, no steps
        return history.models_match()
    if name == "data_kept":  # found on the upgrade's walk
        return history.data_kept()
    return history.run(getattr(history, name))


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
