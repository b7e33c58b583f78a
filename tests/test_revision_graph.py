"""`current` reads the revision graph from the files' source when they are plain, and the graph
it reads is Alembic's own: the same heads in the same order, the same revisions, on every shape
of history (hypothesis draws them). Anything it cannot vouch for goes to Alembic, whose answer
and errors stand; the real command shows both ways.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pytest
from alembic.config import Config
from alembic.script import ScriptDirectory
from conftest import Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_imports import imported_modules, tops

from migratectl.repository import revision_graph
from migratectl.repository.config import build_config
from migratectl.repository.revision_graph import read_heads
from migratectl.settings import load_settings

GENERATED = '''\
"""{message}

Revision ID: {rev}
Revises: {down_text}
Create Date: 2026-11-21 10:00:00.000000

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = {rev!r}
down_revision: Union[str, Sequence[str], None] = {down!r}
branch_labels: Union[str, Sequence[str], None] = {labels!r}
depends_on: Union[str, Sequence[str], None] = {depends!r}


def upgrade() -> None:
    """Upgrade schema."""
    op.execute("select 1")


def downgrade() -> None:
    """Downgrade schema."""
    pass
'''


def write_revision(
    versions: Path,
    filename: str,
    rev: str,
    down: str | tuple[str, ...] | None,
    *,
    labels: str | tuple[str, ...] | None = None,
    depends: str | tuple[str, ...] | None = None,
) -> Path:
    versions.mkdir(parents=True, exist_ok=True)
    path = versions / filename
    down_text = ", ".join(down) if isinstance(down, tuple) else str(down)
    path.write_text(
        GENERATED.format(
            message=f"revision {rev}",
            rev=rev,
            down=down,
            down_text=down_text,
            labels=labels,
            depends=depends,
        )
    )
    return path


def alembic_view(folder: Path) -> tuple[list[str], set[str]]:
    """What Alembic itself reads from ``folder/migrations``."""
    config = Config(cmd_opts=argparse.Namespace(x=[], quiet=True))
    config.set_main_option("script_location", str(folder / "migrations"))
    script = ScriptDirectory.from_config(config)
    return list(script.get_heads()), {s.revision for s in script.walk_revisions()}


def our_view(folder: Path) -> tuple[list[str], set[str]] | None:
    return read_heads(load_settings(cwd=folder, environ={}))


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, tuple[str, ...], str | None, str | None]]:
    """Revisions in creation order: (id, down revisions, branch label, depends_on)."""
    count = draw(st.integers(min_value=1, max_value=12))
    revisions: list[tuple[str, tuple[str, ...], str | None, str | None]] = []
    for index in range(count):
        rev = f"r{index:02d}{draw(st.sampled_from(['a', 'b', 'c']))}"
        earlier = [r[0] for r in revisions]
        downs: tuple[str, ...] = ()
        depends: str | None = None
        if earlier:  # now and then a second base (a new branch)
            fewest = 0 if index % 4 == 0 else 1
            pick = st.lists(st.sampled_from(earlier), min_size=fewest, max_size=2, unique=True)
            downs = tuple(draw(pick))
            if draw(st.booleans()):
                depends = draw(st.sampled_from(earlier))
        labelled: bool = draw(st.booleans())
        label = f"branch{index}" if labelled and index % 3 == 0 else None
        revisions.append((rev, downs, label, depends))
    return revisions


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(history=histories(), names=st.randoms(use_true_random=False))
def test_heads_and_revisions_are_alembics(
    tmp_path_factory: pytest.TempPathFactory, history: list, names: object
) -> None:
    folder = tmp_path_factory.mktemp("graph")
    (folder / "migratectl.toml").write_text('database_url = "sqlite:///app.db"\n')
    order = list(range(len(history)))
    names.shuffle(order)  # type: ignore[attr-defined]
    versions = folder / "migrations" / "versions"
    for position, (rev, downs, label, depends) in zip(order, history, strict=True):
        down: str | tuple[str, ...] | None = (
            None if not downs else downs[0] if len(downs) == 1 else downs
        )
        write_revision(
            versions, f"f{position:02d}_{rev}.py", rev, down, labels=label, depends=depends
        )
    assert our_view(folder) == alembic_view(folder)


def test_generated_repository_with_branches_merges_and_locations(sqlite_project: Project) -> None:
    project = sqlite_project
    project.config(
        """
        [alembic]
        version_locations = "migrations/versions other_versions"
        """
    )
    project.models("")
    assert project.run("init").exit_code == 0
    (project.path / "other_versions").mkdir()

    def revision(rev: str, *args: str, where: str = "migrations/versions") -> None:
        path = str(project.path / where)
        result = project.run("revision", "-m", rev, "--rev-id", rev, "--version-path", path, *args)
        assert result.exit_code == 0, result

    revision("aaa")
    revision("bbb")
    revision("ccc", "--head", "aaa", "--splice", "--branch-label", "side")
    revision("ddd", "--head", "bbb", "--depends-on", "side", where="other_versions")
    heads = our_view(project.path)
    assert heads is not None
    assert set(heads[0]) == {"ccc", "ddd"}
    script = ScriptDirectory.from_config(build_config(load_settings(cwd=project.path, environ={})))
    assert heads == (list(script.get_heads()), {s.revision for s in script.walk_revisions()})
    assert project.run("merge", "ccc", "ddd", "-m", "merge", "--rev-id", "eee").exit_code == 0
    assert our_view(project.path) == (["eee"], {"aaa", "bbb", "ccc", "ddd", "eee"})


PLAIN_START = 'revision = "aaa"\ndown_revision = None\n'
NOT_PLAIN = {
    "a computed revision": 'revision = "a" + "b"\ndown_revision = None\n',
    "a name that is not defined": PLAIN_START + "NOT_DEFINED\n",
    "a module that is not installed": "import no_such_module_here\n" + PLAIN_START,
    "a relative import": "from . import sibling\n" + PLAIN_START,
    "a decorator": "import functools\n" + PLAIN_START + "@functools.cache\ndef f():\n  pass\n",
    "a call in a default": PLAIN_START + "def upgrade(x=print()):\n    pass\n",
    "an undefined annotation": PLAIN_START + "def upgrade() -> Missing:\n    pass\n",
    "a conditional": "import sys\nif sys.platform:\n    revision = 'aaa'\ndown_revision = None\n",
    "a revision assigned twice": PLAIN_START + 'revision = "bbb"\n',
    "no revision at all": "down_revision = None\n",
    "a syntax error": PLAIN_START + "def upgrade(:\n",
    "a missing down revision": 'revision = "aaa"\ndown_revision = "zzz"\n',
    "an illegal character": 'revision = "a-b"\ndown_revision = None\n',
    "a self reference": 'revision = "aaa"\ndown_revision = "aaa"\n',
}


@pytest.mark.parametrize("body", NOT_PLAIN.values(), ids=NOT_PLAIN.keys())
def test_what_needs_alembic_is_left_to_alembic(tmp_path: Path, body: str) -> None:
    (tmp_path / "migratectl.toml").write_text('database_url = "sqlite:///app.db"\n')
    versions = tmp_path / "migrations" / "versions"
    versions.mkdir(parents=True)
    (versions / "aaa_first.py").write_text(body)
    assert our_view(tmp_path) is None


def test_cycles_duplicates_and_label_clashes_are_left_to_alembic(tmp_path: Path) -> None:
    (tmp_path / "migratectl.toml").write_text('database_url = "sqlite:///app.db"\n')
    versions = tmp_path / "migrations" / "versions"
    write_revision(versions, "a.py", "aaa", None)
    write_revision(versions, "b.py", "bbb", "aaa")
    assert our_view(tmp_path) == (["bbb"], {"aaa", "bbb"})
    write_revision(versions, "c.py", "ccc", ("bbb", "ddd"))
    write_revision(versions, "d.py", "ddd", "ccc")
    assert our_view(tmp_path) is None  # ccc and ddd below each other
    (versions / "c.py").unlink()
    (versions / "d.py").unlink()
    write_revision(versions, "b2.py", "bbb", "aaa")
    assert our_view(tmp_path) is None  # bbb twice
    (versions / "b2.py").unlink()
    write_revision(versions, "c.py", "ccc", "bbb", labels="aaa")
    assert our_view(tmp_path) is None  # a label equal to a revision id
    write_revision(versions, "c.py", "ccc", "bbb", depends="nowhere")
    assert our_view(tmp_path) is None


def test_hooks_and_unusual_layouts_are_left_to_alembic(tmp_path: Path) -> None:
    write_revision(tmp_path / "migrations" / "versions", "a.py", "aaa", None)
    (tmp_path / "migratectl.toml").write_text('database_url = "sqlite:///app.db"\n')
    assert our_view(tmp_path) == (["aaa"], {"aaa"})
    for extra in (
        'configure_hook = "hooks:configure"\n',
        "[alembic]\nsourceless = true\n",
        "[alembic]\nrecursive_version_locations = true\n",
    ):
        (tmp_path / "migratectl.toml").write_text('database_url = "sqlite:///app.db"\n' + extra)
        assert our_view(tmp_path) is None, extra
    (tmp_path / "migratectl.toml").write_text('database_url = "sqlite:///app.db"\n')
    (tmp_path / "migrations" / "versions" / "a.pyc").write_bytes(b"")
    assert our_view(tmp_path) is None


def upgraded_to_a_first_revision(project: Project) -> Project:
    """A repository with revision aaa, applied, through the real command."""
    project.config()
    project.models("")
    assert project.run_cli("init").exit_code == 0
    assert project.run_cli("revision", "-m", "first", "--rev-id", "aaa").exit_code == 0
    assert project.run_cli("upgrade").exit_code == 0
    return project


def test_current_without_alembic_and_with_it(sqlite_project: Project) -> None:
    """The real command: a plain repository is read without importing Alembic; a file that
    is not plain brings Alembic in, and its errors (file and line) are what the user sees."""
    project = upgraded_to_a_first_revision(sqlite_project)
    assert project.run_cli("revision", "-m", "second", "--rev-id", "bbb").exit_code == 0

    result = project.run_cli("current")
    assert (result.exit_code, result.stdout) == (0, "aaa\n")
    assert "alembic" not in tops(imported_modules(project, "current"))
    assert project.run_cli("current", "--check-heads").exit_code == 1
    assert project.run_cli("upgrade").exit_code == 0
    assert project.run_cli("current").stdout == "bbb (head)\n"

    second = next(p for p in project.revision_files() if p.name.startswith("bbb"))
    second.write_text(second.read_text() + "\nNOT_DEFINED\n")
    broken = project.run_cli("current")
    assert broken.exit_code == 2
    assert "Cannot load migrations/versions/" + second.name in broken.stderr
    assert "NameError: name 'NOT_DEFINED' is not defined" in broken.stderr

    second.write_text(
        textwrap.dedent(
            """\
            import sqlalchemy as sa
            revision = "bbb"
            down_revision = "aaa"
            WIDTH = sa.Integer  # runs fine, but only Alembic can know that
            """
        )
    )
    assert project.run_cli("current").stdout == "bbb (head)\n"
    assert "alembic" in tops(imported_modules(project, "current"))


def test_stamped_revision_unknown_to_the_files(sqlite_project: Project) -> None:
    project = upgraded_to_a_first_revision(sqlite_project)
    project.query("UPDATE alembic_version SET version_num = 'fff'")
    result = project.run_cli("current")
    assert result.exit_code == 2
    assert "The database is at revision 'fff'" in result.stderr


def test_large_histories_are_left_to_alembic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Past SOURCE_LIMIT bytes of source, Alembic's cached bytecode is cheaper than parsing."""
    (tmp_path / "migratectl.toml").write_text('database_url = "sqlite:///app.db"\n')
    versions = tmp_path / "migrations" / "versions"
    size = write_revision(versions, "a.py", "aaa", None).stat().st_size
    write_revision(versions, "b.py", "bbb", "aaa")
    monkeypatch.setattr(revision_graph, "SOURCE_LIMIT", 2 * size + 100)
    assert our_view(tmp_path) == (["bbb"], {"aaa", "bbb"})
    monkeypatch.setattr(revision_graph, "SOURCE_LIMIT", 2 * size - 100)
    assert our_view(tmp_path) is None
