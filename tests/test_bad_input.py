"""Every bad input gets its exit code (SPEC §3), one short paragraph saying what went wrong and
what to do, no traceback unless -v, and nothing written: no file, no version table, no SQLite
database created."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import BACKENDS, SERVER_URLS, Project, Result, require_server
from sqlalchemy.engine import make_url

REV1, REV2 = "ba0000000001", "ba0000000002"
UNKNOWN = "ffffffffffff"

MODELS = """
class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
"""


def revision_file(rev: str, down: str | None, table: str) -> str:
    return textwrap.dedent(
        f'''
        """create {table}"""
        import sqlalchemy as sa
        from alembic import op

        revision = "{rev}"
        down_revision = {down!r}
        branch_labels = None
        depends_on = None


        def upgrade():
            op.create_table("{table}", sa.Column("id", sa.Integer, primary_key=True))


        def downgrade():
            op.drop_table("{table}")
        '''
    ).lstrip()


def ready(project: Project, *, models: str | None = "models") -> Project:
    """A configured project with a repository holding one revision; no database yet."""
    project.models(MODELS)
    project.config(models=models)
    initialised = project.run("init")
    assert initialised.exit_code == 0, initialised
    project.write("migrations/versions/r1_users.py", revision_file(REV1, None, "users"))
    return project


def files(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``folder`` with its size and modification time."""
    found = {}
    for path in folder.rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            stat = path.stat()
            found[str(path.relative_to(folder))] = (stat.st_size, stat.st_mtime_ns)
    return found


def assert_refused(result: Result, exit_code: int, *fragments: str) -> str:
    """One short paragraph on stderr naming ``fragments``; nothing on stdout; no traceback."""
    assert result.exit_code == exit_code, result
    assert result.stdout == "", result
    message = result.stderr.strip()
    assert message.startswith("Error: "), result
    assert "Traceback" not in result.output, result
    assert "\n\n" not in message, result
    assert sum(line.startswith("Error: ") for line in message.splitlines()) == 1, result
    assert len(message) < 700, f"{len(message)} characters: {message}"
    flat = " ".join(message.split())
    for fragment in fragments:
        assert fragment in flat, f"{fragment!r} not in {flat!r}"
    return flat


# --------------------------------------------------------------------------- configuration


def test_no_configuration_and_no_url(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    (project.path / "migratectl.toml").unlink()
    before = files(project.path)
    for command in ("current", "upgrade", "status"):
        result = project.run(command)
        assert_refused(result, 2, "No database URL is configured", "MIGRATECTL_DATABASE_URL")
    assert files(project.path) == before
    assert not (project.path / "app.db").exists()


def test_empty_folder_points_at_init(sqlite_project: Project) -> None:
    result = sqlite_project.run("upgrade")
    assert_refused(result, 2, "No migration repository", "migratectl init")
    assert files(sqlite_project.path) == {}


CONFIG_ERRORS = {
    "toml-syntax": ('database_url = "sqlite:///app.db"\nmodels = "models\n', ["line 2"]),
    "unknown-key": (
        'database_url = "sqlite:///app.db"\nmodel = "models"\n',
        ['Unknown key "model"', 'Did you mean "models"?', "migratectl.toml"],
    ),
    "wrong-type": (
        'database_url = "sqlite:///app.db"\ncompare_type = "yes"\n',
        ["compare_type", "must be true or false", '"yes"'],
    ),
    "wrong-type-number": (
        'database_url = "sqlite:///app.db"\nlock_timeout = "ten"\n',
        ["lock_timeout", "must be a number"],
    ),
    "unset-variable": (
        'database_url = "postgresql://app:${MC_TEST_UNSET_PASSWORD}@db/app"\n',
        ["MC_TEST_UNSET_PASSWORD", "not set", "${MC_TEST_UNSET_PASSWORD:-"],
    ),
}


@pytest.mark.parametrize("case", sorted(CONFIG_ERRORS))
@pytest.mark.parametrize("command", ["upgrade", "current", "migrate"])
def test_configuration_errors(sqlite_project: Project, case: str, command: str) -> None:
    project = ready(sqlite_project)
    content, fragments = CONFIG_ERRORS[case]
    project.write("migratectl.toml", content)
    before = files(project.path)
    result = project.run(command)
    assert_refused(result, 2, *fragments)
    assert files(project.path) == before
    assert not (project.path / "app.db").exists()


def test_unparseable_url(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    before = files(project.path)
    result = project.run("--database-url", "not a url", "upgrade")
    assert_refused(result, 2, "not a valid SQLAlchemy URL", "dialect+driver://")
    assert files(project.path) == before


def test_unknown_dialect(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    result = project.run("--database-url", "postgresqll://app@db/app", "current")
    assert_refused(result, 2, "unknown dialect or driver", "'postgresqll'")


# --------------------------------------------------------------------------- models


MODELS_ERRORS = {
    "missing-module": ("nosuchmodels", None, ['"nosuchmodels"', "sys_path"]),
    "raising-module": (
        "models",
        'import os\nraise RuntimeError("SECRET_KEY is not set")\n',
        ["RuntimeError: SECRET_KEY is not set", "-v"],
    ),
    "missing-attribute": ("models:Nope", None, ['"Nope"']),
    "no-metadata": ("models", "import sqlalchemy as sa\nVALUE = 1\n", ["no MetaData"]),
    "two-bases": (
        "models",
        "from sqlalchemy.orm import DeclarativeBase\n\n\n"
        "class First(DeclarativeBase):\n    pass\n\n\n"
        "class Second(DeclarativeBase):\n    pass\n",
        ["First", "Second", 'models = "models:First"'],
    ),
}


@pytest.mark.parametrize("case", sorted(MODELS_ERRORS))
@pytest.mark.parametrize("command", ["migrate", "check"])
def test_models_errors(sqlite_project: Project, case: str, command: str) -> None:
    spec, module, fragments = MODELS_ERRORS[case]
    project = ready(sqlite_project, models=spec)
    assert project.run("upgrade").exit_code == 0  # `check` compares models only at head
    if module is not None:
        project.write("models.py", module)
    before = files(project.path)
    result = project.run(command)
    assert_refused(result, 2, *fragments)
    assert files(project.path) == before


def test_models_error_traceback_with_verbose(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    assert project.run("upgrade").exit_code == 0
    project.write("models.py", 'raise RuntimeError("SECRET_KEY is not set")\n')
    result = project.run_cli("-v", "check")
    assert result.exit_code == 2, result
    assert "Traceback" in result.stderr
    assert "models.py" in result.stderr
    assert "RuntimeError: SECRET_KEY is not set" in result.stderr


def test_commands_that_do_not_need_the_models_do_not_import_them(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    project.write("models.py", 'raise RuntimeError("importing the models is not allowed")\n')
    for args in (
        ["upgrade"],
        ["current"],
        ["status"],
        ["history", "-i"],
        ["heads"],
        ["branches"],
        ["show", REV1],
        ["downgrade", "base"],
        ["stamp", "head"],
        ["upgrade", "--sql"],
    ):
        result = project.run(*args)
        assert result.exit_code == 0, (args, result)
        assert "not allowed" not in result.output


# --------------------------------------------------------------------------- drivers, servers


def _hide_module(folder: Path, module: str) -> dict[str, str]:
    """An environment in which ``import module`` fails as if it were not installed."""
    shim = folder / "shim" / module
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text(
        f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n"
    )
    return {"PYTHONPATH": str(folder / "shim")}


@pytest.mark.parametrize(
    ("url", "module", "extra"),
    [
        ("postgresql+psycopg://app@127.0.0.1:1/app", "psycopg", "migratectl[postgres]"),
        ("postgresql://app@127.0.0.1:1/app", "psycopg", "migratectl[postgres]"),
        ("mysql+pymysql://app@127.0.0.1:1/app", "pymysql", "migratectl[mysql]"),
        ("postgresql+asyncpg://app@127.0.0.1:1/app", "asyncpg", "migratectl[async]"),
    ],
)
def test_driver_not_installed_names_the_extra(
    sqlite_project: Project, tmp_path: Path, url: str, module: str, extra: str
) -> None:
    project = ready(sqlite_project)
    env = _hide_module(tmp_path, module)
    if module == "psycopg":  # plain postgresql:// would otherwise fall back to psycopg2
        env.update(_hide_module(tmp_path / "more", "psycopg2"))
        env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "shim"), str(tmp_path / "more/shim")])
    before = files(project.path)
    result = project.run_cli("--database-url", url, "upgrade", env=env)
    assert_refused(result, 2, "not installed", f"pip install '{extra}'")
    assert files(project.path) == before


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://app:pw@127.0.0.1:1/app",
        "mysql+pymysql://app:pw@127.0.0.1:1/app",
        "postgresql+asyncpg://app:pw@127.0.0.1:1/app",
    ],
    ids=["postgresql", "mysql", "asyncpg"],
)
@pytest.mark.parametrize("command", ["upgrade", "current"])
def test_unreachable_server_exits_3_quickly(
    sqlite_project: Project, url: str, command: str
) -> None:
    project = ready(sqlite_project)
    started = time.monotonic()
    result = project.run_cli("--database-url", url, command)
    elapsed = time.monotonic() - started
    flat = assert_refused(result, 3, "Cannot connect", "127.0.0.1:1", "running and reachable")
    assert ":***@" in flat
    # A refused connection fails at once; the bound leaves room for a busy CI machine.
    assert elapsed < 30, f"took {elapsed:.1f} s"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A local port that accepts connections and never says a word (a hung server, or a
    firewall that lets the SYN through): the port number."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        yield listener.getsockname()[1]


SILENT_URLS = [
    "postgresql+psycopg://app:pw@127.0.0.1:{port}/app",
    "mysql+pymysql://app:pw@127.0.0.1:{port}/app",
    "postgresql+asyncpg://app:pw@127.0.0.1:{port}/app",
]


@pytest.mark.parametrize("url", SILENT_URLS, ids=["psycopg", "pymysql", "asyncpg"])
def test_silent_server_times_out(
    sqlite_project: Project, silent_server: int, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from migratectl.database import engines

    monkeypatch.setattr(engines, "CONNECT_TIMEOUT", 2)
    project = ready(sqlite_project)
    started = time.monotonic()
    result = project.run("--database-url", url.format(port=silent_server), "upgrade")
    elapsed = time.monotonic() - started
    assert_refused(result, 3, "Cannot connect", "running and reachable")
    assert 1.5 < elapsed < 30, f"took {elapsed:.1f} s"


def test_silent_server_times_out_within_10_seconds_by_default(
    sqlite_project: Project, silent_server: int
) -> None:
    project = ready(sqlite_project)
    started = time.monotonic()
    url = f"mysql+pymysql://app:pw@127.0.0.1:{silent_server}/app"
    result = project.run_cli("--database-url", url, "current")
    elapsed = time.monotonic() - started
    assert_refused(result, 3, "Cannot connect", "timed out")
    # 10 s of patience, plus the start of a Python process on a busy CI machine.
    assert 9 < elapsed < 60, f"took {elapsed:.1f} s"


@pytest.mark.parametrize("backend", ["mariadb"])
def test_statements_may_outlast_the_connect_timeout(
    project: Project, backend: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handshake's time limit is lifted once connected: a long migration is not cut off."""
    from migratectl.database import engines

    monkeypatch.setattr(engines, "CONNECT_TIMEOUT", 1)
    ready(project, models=None)
    project.write(
        "migrations/versions/r2_slow.py",
        revision_file(REV2, REV1, "slow").replace(
            '    op.create_table("slow"',
            '    op.execute("SELECT SLEEP(3)")\n    op.create_table("slow"',
        ),
    )
    result = project.run("upgrade")
    assert result.exit_code == 0, result
    assert project.version() == [REV2]


def _server_url(backend: str, **changes: str) -> str:
    require_server(backend)
    url = make_url(SERVER_URLS[backend])
    return url.set(**changes).render_as_string(hide_password=False)  # type: ignore[arg-type]


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_login_refused_exits_3(sqlite_project: Project, backend: str) -> None:
    project = ready(sqlite_project)
    url = _server_url(backend, username="mc_no_such_user", password="wrong-password")
    result = project.run_cli("--database-url", url, "upgrade")
    assert_refused(result, 3, "Cannot connect", "mc_no_such_user", "refused the login")


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
@pytest.mark.parametrize("command", ["upgrade", "current", "check"])
def test_missing_database_exits_3(sqlite_project: Project, backend: str, command: str) -> None:
    project = ready(sqlite_project)
    url = _server_url(backend, database="mc_no_such_database")
    result = project.run_cli("--database-url", url, command)
    assert_refused(result, 3, "mc_no_such_database", "Create the database")


def test_sqlite_folder_missing_exits_3(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    result = project.run("--database-url", "sqlite:///no/such/folder/app.db", "upgrade")
    assert_refused(result, 3, "Cannot connect", "folder exists")


# --------------------------------------------------------------------------- the repository


def test_migrations_folder_missing(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    shutil.rmtree(project.path / "migrations")
    before = files(project.path)
    for command in ("upgrade", "current", "migrate", "history", "check", "revision"):
        result = project.run(command)
        assert_refused(result, 2, "No migration repository", "migratectl init")
    assert files(project.path) == before
    assert not (project.path / "app.db").exists()


def test_init_into_a_non_empty_folder(sqlite_project: Project) -> None:
    project = sqlite_project
    project.write("migrations/notes.txt", "mine\n")
    before = files(project.path)
    result = project.run("--database-url", project.database_url, "init")
    assert_refused(result, 2, "not empty", "--convert")
    assert files(project.path) == before  # not even migratectl.toml


@pytest.mark.parametrize(
    "args",
    [
        ["upgrade", "nosuch"],
        ["downgrade", "nosuch"],
        ["stamp", "nosuch"],
        ["show", "nosuch"],
        ["upgrade", "nosuch+1"],
        ["downgrade", "nosuch@head"],
    ],
    ids=lambda a: " ".join(a),
)
def test_unknown_revision(sqlite_project: Project, args: list[str]) -> None:
    project = ready(sqlite_project)
    before = files(project.path)
    result = project.run(*args)
    assert_refused(result, 2, "Unknown revision 'nosuch'", "migratectl history")
    assert files(project.path) == before
    assert not (project.path / "app.db").exists()  # nor its lock file: checked by files()


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_unknown_revision_creates_no_version_table(project: Project, backend: str) -> None:
    ready(project)
    result = project.run("upgrade", "nosuch")
    assert_refused(result, 2, "Unknown revision 'nosuch'")
    assert project.tables() == set()


READING_COMMANDS = [
    ["current"],
    ["status"],
    ["check"],
    ["upgrade"],
    ["downgrade"],
    ["migrate", "-m", "more"],
    ["history", "-i"],
]


@pytest.mark.parametrize("args", READING_COMMANDS, ids=lambda a: " ".join(a))
def test_database_at_a_revision_the_scripts_do_not_have(
    sqlite_project: Project, args: list[str]
) -> None:
    project = ready(sqlite_project)
    assert project.run("upgrade").exit_code == 0
    project.query("UPDATE alembic_version SET version_num = :v", v=UNKNOWN)
    before = files(project.path)
    result = project.run(*args)
    assert_refused(result, 2, f"The database is at revision '{UNKNOWN}'", "Pull the latest")
    assert files(project.path) == before  # in particular, migrate wrote no revision
    assert project.version() == [UNKNOWN]


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_database_at_unknown_revision_on_servers(project: Project, backend: str) -> None:
    ready(project)
    assert project.run("upgrade").exit_code == 0
    project.query("UPDATE alembic_version SET version_num = :v", v=UNKNOWN)
    for args in READING_COMMANDS:
        result = project.run(*args)
        assert_refused(result, 2, f"'{UNKNOWN}'", "Pull the latest")
    assert project.version() == [UNKNOWN]
    assert project.tables() == {"alembic_version", "users"}


def test_stamp_purge_is_the_way_out_of_an_unknown_revision(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    assert project.run("upgrade").exit_code == 0
    project.query("UPDATE alembic_version SET version_num = :v", v=UNKNOWN)
    assert "stamp --purge" in project.run("current").stderr
    assert project.run("stamp", "--purge", REV1).exit_code == 0
    assert project.version() == [REV1]


@pytest.mark.parametrize("args", [["upgrade"], ["upgrade", "head"]], ids=" ".join)
def test_several_heads(sqlite_project: Project, args: list[str]) -> None:
    project = ready(sqlite_project)
    project.write("migrations/versions/r2_a.py", revision_file(REV2, REV1, "a"))
    project.write("migrations/versions/r3_b.py", revision_file("ba0000000003", REV1, "b"))
    before = files(project.path)
    result = project.run(*args)
    assert_refused(result, 2, "more than one head", "migratectl merge heads")
    assert files(project.path) == before
    assert not (project.path / "app.db").exists()


@pytest.mark.parametrize(
    ("body", "line", "what"),
    [
        ('revision = "x"\ndown_revision = None\ndef upgrade(:\n    pass\n', 3, "invalid syntax"),
        ("import no_such_module_for_migratectl\n", 1, "no_such_module_for_migratectl"),
    ],
    ids=["syntax", "import"],
)
@pytest.mark.parametrize("command", ["upgrade", "current", "history", "revision"])
def test_revision_file_that_cannot_be_loaded(
    sqlite_project: Project, body: str, line: int, what: str, command: str
) -> None:
    project = ready(sqlite_project)
    project.write("migrations/versions/r2_broken.py", body)
    before = files(project.path)
    result = project.run(command)
    assert_refused(result, 2, f"r2_broken.py, line {line}", what)
    assert files(project.path) == before
    assert not (project.path / "app.db").exists()


def test_edit_without_an_editor(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    result = project.run("edit")
    assert_refused(result, 2, "No editor", "EDITOR")


def _make_unwritable(folder: Path) -> Callable[[], None]:
    """Make ``folder`` refuse new files, even to root; returns the undo."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        return lambda: folder.chmod(0o755)
    chattr = shutil.which("chattr")
    if chattr is None:
        pytest.skip("running as root without chattr: no way to make a folder unwritable")
    done = subprocess.run([chattr, "+i", str(folder)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {done.stderr.strip()}")
    return lambda: subprocess.run([chattr, "-i", str(folder)], check=True)


@pytest.mark.parametrize("command", [["revision", "-m", "x"], ["migrate", "-m", "x"]], ids=" ".join)
def test_unwritable_versions_folder(sqlite_project: Project, command: list[str]) -> None:
    project = ready(sqlite_project)
    assert project.run("upgrade").exit_code == 0
    project.models(
        MODELS + "\n\nclass Post(Base):\n    __tablename__ = 'posts'\n"
        "    id: Mapped[int] = mapped_column(primary_key=True)\n"
    )
    versions = project.path / "migrations" / "versions"
    before = files(project.path)
    undo = _make_unwritable(versions)
    try:
        result = project.run(*command)
    finally:
        undo()
    assert_refused(result, 2, "migrations/versions", "writable")
    assert files(project.path) == before


def test_version_path_under_a_file(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    project.write("notes.txt", "not a folder\n")
    before = files(project.path)
    result = project.run("revision", "-m", "x", "--version-path", "notes.txt/versions")
    assert_refused(result, 2, "notes.txt/versions")
    assert files(project.path) == before


def test_read_only_sqlite_database_exits_4(sqlite_project: Project) -> None:
    project = ready(sqlite_project)
    assert project.run("upgrade").exit_code == 0
    project.write("migrations/versions/r2_posts.py", revision_file(REV2, REV1, "posts"))
    database = project.path / "app.db"
    read_only = f"sqlite:///file:{database}?mode=ro&uri=true"
    result = project.run_cli("--database-url", read_only, "upgrade")
    assert result.exit_code == 4, result
    assert "Traceback" not in result.output
    flat = " ".join(result.stderr.split())
    assert f"Revision {REV2}" in flat
    assert "readonly database" in flat
    assert "read-only" in flat
    assert f"The database is at {REV1}." in flat
    assert project.version() == [REV1]
    assert "posts" not in project.tables()
    # Reading works through the same URL, and leaves no stray file behind.
    current = project.run_cli("--database-url", read_only, "current")
    assert current.exit_code == 0, current
    assert current.stdout.strip() == REV1
    assert sorted(p.name for p in project.path.iterdir() if p.name.startswith(("file:", ":"))) == []


# --------------------------------------------------------------------------- reading never writes


@pytest.mark.parametrize("backend", BACKENDS)
def test_reading_commands_write_nothing(project: Project, backend: str) -> None:
    ready(project)
    (project.path / "migrations/versions/r1_users.py").unlink()  # nothing pending: migrate runs
    for args in (["check"], ["current"], ["status"], ["history", "-i"], ["status", "--sql"]):
        result = project.run(*args)
        assert result.exit_code in (0, 1), (args, result)
    migrated = project.run("migrate", "-m", "users")
    assert migrated.exit_code == 0, migrated
    assert len(project.revision_files()) == 1
    if backend == "sqlite":
        assert not (project.path / "app.db").exists()
        assert not list(project.path.glob("app.db*"))
    else:
        assert project.tables() == set()
