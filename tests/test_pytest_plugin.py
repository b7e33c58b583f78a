"""The pytest plugin: ``pytest --migratectl`` in a user's project runs verify's checks as test
items, through the installed ``pytest11`` entry point, in a pytest of its own."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import Project
from test_verify import POSTS, good_history, initialised, write_revision

from migratectl.commands.verify import check_names

pytest_plugins = ["pytester"]

# The user's pytest: plugins found through their entry points, as in a project's virtualenv.
# pytest-alembic is in the same environment (a dev dependency) and has its own fixtures to ask
# for; a project that has no conftest for it turns it off.
USER_ARGS = ("-p", "no:pytest_alembic", "-p", "no:xdist", "-p", "no:cacheprovider")


def user_project(pytester: pytest.Pytester, database_url: str) -> Project:
    project = Project(pytester.path, database_url)
    initialised(project, POSTS)
    good_history(project)
    return project


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_good_history_passes_one_item_per_check(
    pytester: pytest.Pytester, database_url: str
) -> None:
    project = user_project(pytester, database_url)
    pytester.makepyfile(test_app="def test_app():\n    assert True\n")

    result = pytester.runpytest_subprocess("--migratectl", "-v", *USER_ARGS)
    result.assert_outcomes(passed=len(check_names()) + 1)
    for name in check_names():
        result.stdout.fnmatch_lines([f"migratectl::{name} PASSED*"])
    assert project.tables() == set()  # the configured database is never touched


def test_a_failing_check_fails_its_item_with_the_detail(
    pytester: pytest.Pytester, sqlite_url: str
) -> None:
    project = user_project(pytester, sqlite_url)
    write_revision(
        project,
        "r3",
        "r2",
        'op.create_table("audit", sa.Column("id", sa.Integer(), primary_key=True))',
        "pass",
        "add audit",
    )

    result = pytester.runpytest_subprocess("--migratectl", "-v", *USER_ARGS)
    failing = {"models_match", "stairway", "downgrade_to_base"}
    result.assert_outcomes(passed=len(check_names()) - len(failing), failed=len(failing))
    result.stdout.fnmatch_lines(
        [
            "migratectl::single_head PASSED*",
            "migratectl::stairway FAILED*",
            "*stairway: revision r3 (add audit): downgrade does not undo it: "
            "left behind: table audit*",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    assert project.tables() == set()


def test_skip_and_a_broken_upgrade_are_skipped_items(
    pytester: pytest.Pytester, sqlite_url: str
) -> None:
    project = user_project(pytester, sqlite_url)
    write_revision(project, "r3", "r2", 'raise RuntimeError("three breaks")', "pass", "three")

    result = pytester.runpytest_subprocess(
        "--migratectl", "-v", "-rs", "--migratectl-skip", "single_head", *USER_ARGS
    )
    result.assert_outcomes(failed=1, skipped=len(check_names()) - 1)
    result.stdout.fnmatch_lines(
        [
            "*upgrade: revision r3 (three): upgrade raised RuntimeError: three breaks*",
            "SKIPPED*left out (--skip)*",
            "SKIPPED*the upgrade failed*",
        ]
    )


def test_scratch_url_and_config_options(
    pytester: pytest.Pytester, sqlite_url: str, tmp_path: Path
) -> None:
    project = user_project(pytester, sqlite_url)
    (project.path / "migratectl.toml").rename(project.path / "ci.toml")
    scratch = tmp_path / "scratch.db"

    missing = pytester.runpytest_subprocess("--migratectl", *USER_ARGS)
    missing.assert_outcomes(failed=len(check_names()))
    missing.stdout.fnmatch_lines(["*migratectl verify could not run: *"])
    assert "Traceback" not in missing.stdout.str()

    result = pytester.runpytest_subprocess(
        "--migratectl",
        "--migratectl-config",
        "ci.toml",
        "--migratectl-scratch-url",
        f"sqlite:///{scratch}",
        *USER_ARGS,
    )
    result.assert_outcomes(passed=len(check_names()))
    assert Project(tmp_path, f"sqlite:///{scratch}").tables() == set()  # used, then emptied
    assert scratch.exists()


def test_without_the_flag_the_plugin_is_inert(pytester: pytest.Pytester, sqlite_url: str) -> None:
    user_project(pytester, sqlite_url)
    pytester.makepyfile(
        test_app="""
        import sys

        def test_nothing_heavy_was_imported():
            loaded = [name for name in ("migratectl.verify", "migratectl.api", "alembic",
                      "sqlalchemy") if name in sys.modules]
            assert loaded == []
        """
    )
    result = pytester.runpytest_subprocess("-v", *USER_ARGS)
    result.assert_outcomes(passed=1)
    assert "migratectl::" not in result.stdout.str()
    chosen = pytester.runpytest_subprocess("--migratectl", "-k", "single_head", *USER_ARGS)
    chosen.assert_outcomes(passed=1)  # -k chooses among the check items too
    help_text = pytester.runpytest_subprocess("--help", *USER_ARGS).stdout.str()
    assert "--migratectl-scratch-url" in help_text
