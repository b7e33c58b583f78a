"""What a user sees every day: help a person reads, nothing done silently, JSON from
upgrade / downgrade / stamp, the rename prompt, the editor, status, check's change lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from conftest import Project, migratectl_command
from test_examples import PARITY_COMMANDS

from migratectl.output import mask_url

USERS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(50))
"""

COMMANDS = [*PARITY_COMMANDS, "status", "adopt", "verify", "lint"]


def with_one_revision(project: Project) -> str:
    project.models(USERS)
    project.config()
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "initial").exit_code == 0
    [path] = project.revision_files()
    return path.name.split("_")[0]


# --------------------------------------------------------------------------- help


def test_help_shows_metavars_a_person_reads_and_whole_summaries(sqlite_project: Project) -> None:
    env = {"COLUMNS": "200"}
    top = sqlite_project.run_cli("--help", env=env)
    assert top.exit_code == 0, top
    pages = [top.stdout]
    for command in COMMANDS:
        page = sqlite_project.run_cli(command, "--help", env=env)
        assert page.exit_code == 0, page
        pages.append(page.stdout)
    for page in pages:
        assert not re.search(r"<(str|int|float|list\[str\]|float range|path)>", page), page
        assert "..." not in page.replace("[REV]...", "").replace("COMMAND [ARGS]...", ""), page
    upgrade = pages[1 + COMMANDS.index("upgrade")]
    assert "Usage: migratectl upgrade [OPTIONS] [REV]" in upgrade
    assert re.search(r"--lock-timeout SECONDS\s", upgrade)
    assert re.search(r"-x, --x-arg KEY=VALUE\s", upgrade)
    assert re.search(r"-c, --config PATH\s", upgrade)
    migrate = pages[1 + COMMANDS.index("migrate")]
    assert re.search(r"-m, --message TEXT\s", migrate)
    assert re.search(r"--rename TABLE.OLD=NEW\|OLD=NEW\s", migrate)
    # Each command's summary on the top page is its docstring's first sentence, whole.
    assert (
        "Create a migration repository (and migratectl.toml when there is no configuration)."
        in (" ".join(top.stdout.split()))
    )
    assert "Prove the migration history on a scratch database (never the configured one)." in (
        " ".join(top.stdout.split())
    )
    status = pages[1 + COMMANDS.index("status")]
    assert "instead of running it" not in status
    assert "Also print the SQL that `upgrade` would run" in " ".join(status.split())


# --------------------------------------------------------------------------- nothing silent


def test_upgrade_at_head_and_empty_listings_say_so(sqlite_project: Project) -> None:
    project = sqlite_project
    project.models(USERS)
    project.config()
    assert project.run("init").exit_code == 0

    nothing = project.run_cli("upgrade")
    assert (nothing.exit_code, nothing.stdout) == (0, "")
    assert nothing.stderr == "Nothing to apply: the repository has no revision yet.\n"
    history = project.run_cli("history")
    assert (history.exit_code, history.stdout) == (0, "")
    assert "No revisions yet" in history.stderr
    heads = project.run_cli("heads")
    assert (heads.exit_code, heads.stdout) == (0, "")
    assert heads.stderr == "No heads: the repository has no revision yet.\n"
    branches = project.run("branches")
    assert (branches.exit_code, branches.stdout, branches.stderr) == (0, "", "No branch points.\n")

    assert project.run("migrate", "-m", "initial").exit_code == 0
    [path] = project.revision_files()
    rev = path.name.split("_")[0]
    assert project.run("upgrade").exit_code == 0
    again = project.run_cli("upgrade")
    assert (again.exit_code, again.stdout) == (0, "")
    assert again.stderr == f"Already at head ({rev}).\n"
    at_rev = project.run("upgrade", rev)
    assert at_rev.stderr == f"Nothing to apply: the database is at {rev}.\n"
    assert project.run("downgrade", "base").exit_code == 0
    at_base = project.run("downgrade", "base")
    assert at_base.stderr == "Nothing to revert: the database is at base (no revision).\n"
    ranged = project.run("history", "-r", f"{rev}:{rev}")
    assert ranged.exit_code == 0, ranged
    assert rev in ranged.stdout and "No revisions" not in ranged.stderr


# --------------------------------------------------------------------------- --json


def test_upgrade_downgrade_and_stamp_json(project: Project) -> None:
    first = with_one_revision(project)
    assert project.run("revision", "-m", "second").exit_code == 0
    second = next(p for p in project.revision_files() if "second" in p.name).name.split("_")[0]

    upgrade = project.run_cli("upgrade", "--json")
    assert upgrade.exit_code == 0, upgrade
    document = json.loads(upgrade.stdout)
    assert set(document) == {"database", "from", "to", "applied"}
    assert (document["from"], document["to"]) == ([], [second])
    assert [(s["revision"], s["direction"]) for s in document["applied"]] == [
        (first, "upgrade"),
        (second, "upgrade"),
    ]
    assert all(isinstance(s["seconds"], float) and s["seconds"] >= 0 for s in document["applied"])
    assert "Upgrade <base> ->" in upgrade.stderr  # progress stays on stderr

    at_head = json.loads(project.run("upgrade", "--json").stdout)
    assert (at_head["from"], at_head["to"], at_head["applied"]) == ([second], [second], [])

    downgrade = json.loads(project.run_cli("downgrade", "--json").stdout)
    assert (downgrade["from"], downgrade["to"]) == ([second], [first])
    assert downgrade["applied"][0]["revision"] == second
    assert downgrade["applied"][0]["direction"] == "downgrade"

    stamp = json.loads(project.run("stamp", "base", "--json").stdout)
    assert (stamp["from"], stamp["to"]) == ([first], [])
    assert [s["direction"] for s in stamp["applied"]] == ["stamp"]
    assert project.version() == []
    assert document["database"] == mask_url(project.database_url)


def test_json_errors_are_one_document_on_stdout(sqlite_project: Project) -> None:
    project = sqlite_project
    with_one_revision(project)
    dead = "postgresql+psycopg://app:s3cr3tpw@127.0.0.1:9/app"
    result = project.run_cli("upgrade", "--json", "--database-url", dead)
    assert result.exit_code == 3, result
    document = json.loads(result.stdout)
    assert set(document) == {"error"}
    assert document["error"]["exit_code"] == 3
    assert document["error"]["message"].startswith("Cannot connect to the database")
    assert document["error"]["hint"]
    assert "s3cr3tpw" not in result.output
    both = project.run("upgrade", "--json", "--sql")
    assert both.exit_code == 2
    assert json.loads(both.stdout)["error"]["message"].startswith("--json and --sql")
    unknown = project.run("history", "--json", "-r", "nope:head")
    assert unknown.exit_code == 2
    assert "nope" in json.loads(unknown.stdout)["error"]["message"]


# --------------------------------------------------------------------------- prompt, editor


def test_ctrl_d_at_the_rename_prompt_means_no(sqlite_project: Project) -> None:
    import pty

    project = sqlite_project
    with_one_revision(project)
    assert project.run("upgrade").exit_code == 0
    project.models(USERS.replace("name: Mapped", "full_name: Mapped"))
    controller, terminal = pty.openpty()
    try:
        process = subprocess.Popen(
            [migratectl_command(), "migrate", "-m", "rename?"],
            cwd=project.path,
            stdin=terminal,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "NO_COLOR": "1"},
        )
        os.write(controller, b"\x04")  # Ctrl-D: end of input
        out, err = process.communicate(timeout=120)
    finally:
        os.close(terminal)
        os.close(controller)
    assert process.returncode == 0, (out, err)
    assert "Was column users.name renamed to full_name" in err
    newest = max(project.revision_files(), key=lambda p: p.stat().st_mtime)
    text = newest.read_text()
    assert "drop_column('name')" in text and "new_column_name" not in text


def test_visual_wins_over_editor(sqlite_project: Project, tmp_path: Path) -> None:
    project = sqlite_project
    with_one_revision(project)
    seen = tmp_path / "seen.txt"
    visual = tmp_path / "visual.sh"
    visual.write_text(f'#!/bin/sh\necho visual "$1" > {seen}\n')
    visual.chmod(0o755)
    result = project.run_cli("edit", env={"VISUAL": str(visual), "EDITOR": "false"})
    assert result.exit_code == 0, result
    assert seen.read_text().startswith("visual ")
    none = project.run("edit", env={"VISUAL": "", "EDITOR": ""})
    assert none.exit_code == 2
    assert "Set the VISUAL or EDITOR environment variable" in none.stderr


# --------------------------------------------------------------------------- status, check


def test_multidb_status_shows_every_database_alike(tmp_path: Path) -> None:
    project = Project(tmp_path, f"sqlite:///{tmp_path / 'main.db'}")
    project.models(USERS)
    project.write(
        "migratectl.toml",
        f'database_url = "sqlite:///{tmp_path / "main.db"}"\nmodels = "models"\n\n'
        f'[binds.audit]\ndatabase_url = "sqlite:///{tmp_path / "audit.db"}"\nmodels = "models"\n',
    )
    assert project.run("init", "--multidb").exit_code == 0
    assert project.run("migrate", "-m", "initial").exit_code == 0
    result = project.run_cli("status")
    assert result.exit_code == 0, result
    blocks = result.stdout.strip().split("\n\n")
    assert len(blocks) == 2, result
    assert blocks[0].startswith("Database (default): sqlite:///")
    assert blocks[1].startswith("Database 'audit': sqlite:///")
    shape = [[line.split(":")[0] for line in block.splitlines()[:4]] for block in blocks]
    assert shape[0][1:] == shape[1][1:] == ["Current", "Heads", "Pending"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_check_shows_changed_defaults_and_types_as_sql(project: Project) -> None:
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(50), server_default="anon")
        """
    )
    project.config("[configure]\ncompare_server_default = true\n")
    assert project.run("init").exit_code == 0
    assert project.run("migrate", "-m", "initial").exit_code == 0
    assert project.run("upgrade").exit_code == 0
    project.models(
        """
        class User(Base):
            __tablename__ = "users"
            id: Mapped[int] = mapped_column(primary_key=True)
            name: Mapped[str] = mapped_column(sa.String(80), server_default=sa.text("'guest'"))
        """
    )
    result = project.run_cli("check")
    assert result.exit_code == 1, result
    assert "modify_type users.name: VARCHAR(50) -> VARCHAR(80)" in result.stdout
    assert re.search(
        r"modify_default users\.name: '?'anon'(::character varying)? -> 'guest'", result.stdout
    ), result
    assert "object at 0x" not in result.stdout and "DefaultClause" not in result.stdout


# --------------------------------------------------------------------------- completion


def test_completion_offers_revision_ids(sqlite_project: Project) -> None:
    project = sqlite_project
    rev = with_one_revision(project)
    (project.path / "sub").mkdir()
    for words, cword in ((f"migratectl upgrade {rev[:3]}", "2"), ("migratectl show ", "2")):
        result = project.run_cli(
            env={"_MIGRATECTL_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": cword},
            cwd=project.path / "sub",
        )
        assert result.exit_code == 0, result
        assert rev in result.stdout.split(), result
    offered = project.run_cli(
        env={
            "_MIGRATECTL_COMPLETE": "complete_bash",
            "COMP_WORDS": "migratectl downgrade ",
            "COMP_CWORD": "2",
        }
    ).stdout.split()
    assert {"head", "base", rev} <= set(offered)


def test_install_completion_for_the_shell_named(sqlite_project: Project, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    result = sqlite_project.run_cli(
        "--install-completion", "zsh", env={"HOME": str(home), "SHELL": "/bin/bash"}
    )
    assert result.exit_code == 0, result
    assert "zsh completion installed" in result.output
    assert (home / ".zfunc" / "_migratectl").is_file()
    assert not (home / ".bashrc").exists()
    fish = sqlite_project.run_cli("--show-completion", "fish", env={"HOME": str(home)})
    assert fish.exit_code == 0, fish
    assert fish.stdout.startswith("complete --command migratectl")


def test_verify_prints_each_check_as_soon_as_it_is_known(sqlite_project: Project) -> None:
    project = sqlite_project
    with_one_revision(project)
    [path] = project.revision_files()
    gate = project.path / "go"
    path.write_text(
        path.read_text().replace(
            "def upgrade() -> None:\n",
            "def upgrade() -> None:\n"
            "    import pathlib, time\n"
            f"    for _ in range(600):\n        if pathlib.Path({str(gate)!r}).exists():\n"
            "            break\n        time.sleep(0.1)\n",
            1,
        )
    )
    proc = subprocess.Popen(
        [migratectl_command(), "verify"],
        cwd=project.path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.startswith("ok single_head: one head"), first
        assert proc.poll() is None  # still upgrading the scratch database, held at the gate
    finally:
        gate.touch()
    rest, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (rest, err)
    assert rest.splitlines()[0].startswith("ok upgrade:")
