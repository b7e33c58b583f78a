"""Progress of a long upgrade / downgrade: a bar on a terminal, clean lines everywhere else."""

from __future__ import annotations

import os
import pty
import re
import subprocess

from conftest import Project, migratectl_command

STEPS = 4


def write_chain(project: Project, count: int = STEPS) -> None:
    project.config()
    project.models("")
    assert project.run("init").exit_code == 0
    for index in range(1, count + 1):
        down = f'"r{index - 1}"' if index > 1 else "None"
        project.write(
            f"migrations/versions/r{index}_step.py",
            f'''
            """step {index}"""
            import sqlalchemy as sa
            from alembic import op

            revision = "r{index}"
            down_revision = {down}
            branch_labels = None
            depends_on = None


            def upgrade():
                op.create_table("t{index}", sa.Column("id", sa.Integer, primary_key=True))


            def downgrade():
                op.drop_table("t{index}")
            ''',
        )


def run_on_terminal(project: Project, *args: str) -> tuple[int, str]:
    """Run migratectl with its stderr on a pseudo-terminal; returns (exit code, what it showed)."""
    main, secondary = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIGRATECTL_")}
    env.update({"NO_COLOR": "1", "TERM": "xterm", "COLUMNS": "100"})
    proc = subprocess.Popen(
        [migratectl_command(), *args],
        cwd=project.path,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=secondary,
    )
    os.close(secondary)
    shown = bytearray()
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(main)
    return proc.wait(timeout=120), shown.decode(errors="replace")


def test_upgrade_and_downgrade_print_one_clean_line_per_revision_when_not_a_terminal(
    sqlite_project: Project,
) -> None:
    write_chain(sqlite_project)

    upgraded = sqlite_project.run_cli("upgrade")
    downgraded = sqlite_project.run_cli("downgrade", "base")

    assert upgraded.exit_code == 0, upgraded
    assert [
        re.sub(r"^(\w+) \S+ -> ", r"\1 -> ", line) for line in upgraded.stderr.splitlines()
    ] == [f"Upgrade -> r{i}, step {i}" for i in range(1, STEPS + 1)]
    assert downgraded.exit_code == 0, downgraded
    assert [re.sub(r" -> \S+,", " ->,", line) for line in downgraded.stderr.splitlines()] == [
        f"Downgrade r{i} ->, step {i}" for i in range(STEPS, 0, -1)
    ]
    for result in (upgraded, downgraded):
        assert "\x1b" not in result.stderr and "\r" not in result.stderr
        assert result.stdout == ""


def test_quiet_upgrade_prints_nothing(sqlite_project: Project) -> None:
    write_chain(sqlite_project)

    result = sqlite_project.run_cli("-q", "upgrade")

    assert result.exit_code == 0, result
    assert result.stderr == ""
    assert sqlite_project.version() == [f"r{STEPS}"]


def test_terminal_shows_a_progress_bar_with_the_lines_above_it(sqlite_project: Project) -> None:
    write_chain(sqlite_project)

    code, shown = run_on_terminal(sqlite_project, "upgrade")

    assert code == 0, shown
    assert "Upgrading" in shown and f"/{STEPS}" in shown, shown
    assert f"Upgrade r{STEPS - 1} -> r{STEPS}, step {STEPS}" in shown, shown
    assert sqlite_project.version() == [f"r{STEPS}"]

    code, shown = run_on_terminal(sqlite_project, "downgrade", "base")

    assert code == 0, shown
    assert "Downgrading" in shown and f"/{STEPS}" in shown, shown


def test_terminal_shows_no_bar_with_quiet_or_for_a_single_revision(
    sqlite_project: Project,
) -> None:
    write_chain(sqlite_project)

    code, quiet = run_on_terminal(sqlite_project, "-q", "upgrade", "r2")
    assert code == 0, quiet
    assert quiet.strip() == "", quiet

    code, single = run_on_terminal(sqlite_project, "upgrade", "r3")
    assert code == 0, single
    assert "Upgrade r2 -> r3, step 3" in single
    assert "Upgrading" not in single, single
    assert sqlite_project.version() == ["r3"]


def test_verify_shows_a_bar_over_the_revisions_on_a_terminal(sqlite_project: Project) -> None:
    write_chain(sqlite_project)

    code, shown = run_on_terminal(sqlite_project, "verify")

    assert code == 1, shown  # models_match fails: the project configures empty models
    assert "verify: upgrade" in shown and f"/{STEPS}" in shown, shown
    assert "verify: stairway" in shown, shown
