"""The pytest plugin: ``pytest --migratectl`` runs ``migratectl verify``'s checks as test items.

Registered through the ``pytest11`` entry point, so it is loaded by every pytest run in an
environment where migratectl is installed: at start-up it only adds its options, and without
``--migratectl`` it does nothing else (migratectl, SQLAlchemy and Alembic are imported only
when the checks run).

The items are named ``migratectl::<check>`` (``migratectl::stairway``, …), one per check, in
verify's order. The settings are found as the command line finds them (``migratectl.toml`` or
``pyproject.toml`` from the current directory up, the ``MIGRATECTL_*`` variables;
``--migratectl-config PATH`` names the file) and the scratch database follows verify's rules:
a temporary one unless ``--migratectl-scratch-url URL`` (or ``NAME=URL`` for a bind) names it.
verify runs once per session, when the first item runs; each item then reports its check: a
failed check fails its item with the check's detail as the failure text, a check that could
not run or was left out (``--migratectl-skip NAME``) is a skipped item.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from migratectl.commands.verify import VerifyCheck

_RESULTS = pytest.StashKey["_Session"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("migratectl", "migratectl verify checks as test items")
    group.addoption(
        "--migratectl",
        action="store_true",
        default=False,
        help="Run migratectl verify's checks (single_head, upgrade, models_match, stairway, "
        "…) as test items migratectl::<check>.",
    )
    group.addoption(
        "--migratectl-config",
        metavar="PATH",
        default=None,
        help="The migratectl configuration file (default: found as migratectl finds it).",
    )
    group.addoption(
        "--migratectl-scratch-url",
        metavar="URL",
        action="append",
        default=None,
        help="An empty database for the checks (NAME=URL: the one of [binds.NAME]); "
        "default: a temporary one, as migratectl verify does.",
    )
    group.addoption(
        "--migratectl-skip",
        metavar="NAME",
        action="append",
        default=None,
        help="Leave this check out (repeatable), as migratectl verify --skip does.",
    )


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect: they apply to these items too
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if not config.getoption("migratectl"):
        return
    from migratectl.commands.verify import check_names

    state = _Session(config)
    config.stash[_RESULTS] = state
    items.extend(
        CheckItem.from_parent(session, name=name, nodeid=f"migratectl::{name}")
        for name in check_names()
    )


class _Session:
    """verify's outcome for this pytest session: run once, when the first item asks."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.checks: dict[str, VerifyCheck] | None = None
        self.error: str | None = None

    def check(self, name: str) -> VerifyCheck | None:
        if self.checks is None and self.error is None:
            self._run()
        if self.error is not None:
            raise CheckFailed(self.error)
        assert self.checks is not None
        return self.checks.get(name)

    def _run(self) -> None:
        import migratectl
        from migratectl.database.scratch import parse_scratch_urls
        from migratectl.errors import MigratectlError
        from migratectl.output import Output
        from migratectl.settings import load_settings

        found: dict[str, VerifyCheck] = {}

        def record(check: VerifyCheck) -> None:
            found[check.name] = check

        option = self.config.getoption
        try:
            settings = load_settings(config=option("migratectl_config"))
            migratectl.verify(
                settings,
                scratch_url=parse_scratch_urls(option("migratectl_scratch_url")),
                skip=option("migratectl_skip") or (),
                output=Output(quiet=True),
                on_check=record,
            )
        except MigratectlError as exc:  # a configuration or usage problem: every item says so
            self.error = f"migratectl verify could not run: {exc}"
            return
        self.checks = found


class CheckFailed(Exception):
    """A check's failure, shown as its detail alone (no traceback)."""


class CheckItem(pytest.Item):
    """One verify check."""

    def runtest(self) -> None:
        check = self.config.stash[_RESULTS].check(self.name)
        if check is None:
            pytest.skip("verify did not reach this check")
        if check.skipped:
            pytest.skip(check.detail)
        if not check.ok:
            raise CheckFailed(f"{check.name}: {check.detail}")

    def repr_failure(self, excinfo: Any, style: Any = None) -> Any:
        if isinstance(excinfo.value, CheckFailed):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)

    def reportinfo(self) -> tuple[Any, int | None, str]:
        return self.path, None, f"migratectl::{self.name}"
