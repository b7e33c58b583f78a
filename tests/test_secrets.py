"""A password in the database URL never appears in any output: errors, -v tracebacks, Alembic's
log lines, --sql scripts, JSON documents. URLs are shown as ``scheme://user:***@host/db``."""

from __future__ import annotations

import json
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import SERVER_URLS, Project, Result, fresh_database, require_server
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

PASSWORD = "Sup3rS3cret"

REVISION = '''
    """create notes"""
    import sqlalchemy as sa
    from alembic import op

    revision = "5ec000000001"
    down_revision = None
    branch_labels = None
    depends_on = None


    def upgrade():
        op.create_table("notes", sa.Column("id", sa.Integer, primary_key=True))


    def downgrade():
        op.drop_table("notes")
    '''

FAILING = '''
    """broken"""
    from alembic import op

    revision = "5ec000000002"
    down_revision = "5ec000000001"
    branch_labels = None
    depends_on = None


    def upgrade():
        op.execute("INSERT INTO no_such_table VALUES (1)")


    def downgrade():
        pass
    '''


def assert_secret_kept(result: Result, *secrets: str) -> None:
    for secret in (PASSWORD, *secrets):
        assert secret not in result.stdout, result
        assert secret not in result.stderr, result


def with_repository(project: Project) -> Project:
    project.models(
        """
        class Note(Base):
            __tablename__ = "notes"
            id: Mapped[int] = mapped_column(primary_key=True)
        """
    )
    project.config()
    assert project.run("init").exit_code == 0
    project.write("migrations/versions/r1_notes.py", textwrap.dedent(REVISION))
    return project


def server_url(backend: str, **changes: str) -> str:
    require_server(backend)
    url = make_url(SERVER_URLS[backend]).set(**changes)  # type: ignore[arg-type]
    return url.render_as_string(hide_password=False)


# --------------------------------------------------------------------------- errors


def _unreachable(scheme: str) -> str:
    return f"{scheme}://app:{PASSWORD}@127.0.0.1:1/app"


ERROR_URLS = {
    "unreachable-postgresql": lambda: _unreachable("postgresql+psycopg"),
    "unreachable-mysql": lambda: _unreachable("mysql+pymysql"),
    "unreachable-asyncpg": lambda: _unreachable("postgresql+asyncpg"),
    "login-refused-postgresql": lambda: server_url(
        "postgresql", username="mc_no_such_role", password=PASSWORD
    ),
    "login-refused-mariadb": lambda: server_url(
        "mariadb", username="mc_no_such_user", password=PASSWORD
    ),
    "unparseable": lambda: f"postgresql+psycopg://app:{PASSWORD}@db:port/app",
}


@pytest.mark.parametrize("verbose", [False, True], ids=["plain", "verbose"])
@pytest.mark.parametrize("case", sorted(ERROR_URLS))
def test_errors_mask_the_password(sqlite_project: Project, case: str, verbose: bool) -> None:
    project = with_repository(sqlite_project)
    url = ERROR_URLS[case]()
    flags = ["-v"] if verbose else []
    for command in (["upgrade"], ["current"], ["current", "--json"], ["status", "--json"]):
        result = project.run_cli(*flags, "--database-url", url, *command)
        assert result.exit_code in (2, 3), result
        assert_secret_kept(result)
        if case != "unparseable":
            assert ":***@" in result.stderr
        if verbose and case != "unparseable":
            assert "Traceback" in result.stderr


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_missing_database_masks_the_password(
    sqlite_project: Project, backend: str, secret_login: dict[str, str]
) -> None:
    project = with_repository(sqlite_project)
    url = make_url(secret_login[backend]).set(database="mc_no_such_database")
    for flags in ([], ["-v"]):
        result = project.run_cli(
            *flags, "--database-url", url.render_as_string(hide_password=False), "upgrade"
        )
        assert result.exit_code == 3, result
        assert "mc_no_such_database" in result.stderr
        assert_secret_kept(result)


def test_percent_encoded_password(sqlite_project: Project) -> None:
    """Neither the encoded nor the decoded form of a password with special characters shows."""
    project = with_repository(sqlite_project)
    url = "postgresql+psycopg://app:S3cr%40t%2Fpw@127.0.0.1:1/app"
    for flags in ([], ["-v"]):
        result = project.run_cli(*flags, "--database-url", url, "current")
        assert result.exit_code == 3, result
        assert_secret_kept(result, "S3cr%40t%2Fpw", "S3cr@t/pw")
        assert "postgresql+psycopg://app:***@127.0.0.1:1/app" in result.stderr


def test_a_short_password_does_not_garble_the_output(sqlite_project: Project) -> None:
    project = with_repository(sqlite_project)
    result = project.run_cli(
        "--database-url", "postgresql+psycopg://app:p@127.0.0.1:1/app", "upgrade"
    )
    assert result.exit_code == 3, result
    assert "Cannot connect to the database postgresql+psycopg://app:***@127.0.0.1:1/app" in (
        result.stderr
    )
    assert "***ostgresql" not in result.stderr


def test_password_from_an_environment_variable(sqlite_project: Project) -> None:
    project = with_repository(sqlite_project)
    project.write(
        "migratectl.toml",
        'database_url = "postgresql+psycopg://app:${DB_PASSWORD}@127.0.0.1:1/app"\n',
    )
    result = project.run_cli("-v", "upgrade", env={"DB_PASSWORD": PASSWORD})
    assert result.exit_code == 3, result
    assert_secret_kept(result)


# --------------------------------------------------------------------------- a real login


def _pg_login(admin_url: str, database: str) -> Iterator[str]:
    role = f"mc_secret_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'"))
        connection.execute(text(f"ALTER DATABASE {database} OWNER TO {role}"))
    in_database = create_engine(
        make_url(admin_url).set(database=database), poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    try:
        yield role
    finally:
        with in_database.connect() as connection:
            connection.execute(text(f"REASSIGN OWNED BY {role} TO CURRENT_USER"))
            connection.execute(text(f"DROP OWNED BY {role}"))
        with admin.connect() as connection:
            connection.execute(text(f"ALTER DATABASE {database} OWNER TO CURRENT_USER"))
            connection.execute(text(f"DROP ROLE {role}"))
        in_database.dispose()
        admin.dispose()


def _mysql_login(admin_url: str, database: str) -> Iterator[str]:
    user = f"mc_secret_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'"))
        connection.execute(text(f"GRANT ALL ON {database}.* TO '{user}'@'%'"))
    try:
        yield user
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP USER '{user}'@'%'"))
        admin.dispose()


@pytest.fixture
def secret_login(backend: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """{backend: URL of a fresh database, as a user whose password is PASSWORD}."""
    with_login = {"postgresql": _pg_login, "mariadb": _mysql_login}[backend]
    databases = fresh_database(backend, tmp_path)
    url = next(databases)
    try:
        logins = with_login(SERVER_URLS[backend], make_url(url).database or "")
        user = next(logins)
        try:
            yield {
                backend: make_url(url)
                .set(username=user, password=PASSWORD)
                .render_as_string(hide_password=False)
            }
        finally:
            next(logins, None)
    finally:
        next(databases, None)


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_successful_commands_never_show_the_password(
    sqlite_project: Project, backend: str, secret_login: dict[str, str]
) -> None:
    url = secret_login[backend]
    project = with_repository(sqlite_project)
    project.env["MIGRATECTL_DATABASE_URL"] = url
    parsed = make_url(url)
    masked = parsed.render_as_string(hide_password=False).replace(PASSWORD, "***")

    outputs = [
        project.run_cli("-v", "upgrade", "--sql"),
        project.run_cli("status", "--sql"),
        project.run_cli("-v", "upgrade"),
        project.run_cli("current", "--json"),
        project.run_cli("status", "--json"),
        project.run_cli("status"),
        project.run_cli("check", "--json"),
        project.run_cli("-v", "history", "-i"),
        project.run_cli("-v", "downgrade", "base"),
        project.run_cli("-v", "stamp", "head"),
    ]
    for result in outputs:
        assert result.exit_code in (0, 1), result
        assert_secret_kept(result)

    assert "CREATE TABLE notes" in outputs[0].stdout
    assert "Context impl" in outputs[2].stderr  # Alembic's own log lines with -v

    current = json.loads(outputs[3].stdout)
    assert current["database"] == masked
    assert current["database"].startswith(f"{parsed.drivername}://{parsed.username}:***@")
    assert json.loads(outputs[4].stdout)["database"] == masked
    assert f"Database: {masked}" in outputs[5].stdout


@pytest.mark.parametrize("backend", ["postgresql", "mariadb"])
def test_failing_revision_with_verbose_keeps_the_password(
    sqlite_project: Project, backend: str, secret_login: dict[str, str]
) -> None:
    project = with_repository(sqlite_project)
    project.env["MIGRATECTL_DATABASE_URL"] = secret_login[backend]
    project.write("migrations/versions/r2_broken.py", textwrap.dedent(FAILING))
    result = project.run_cli("-v", "upgrade")
    assert result.exit_code == 4, result
    assert "Traceback" in result.stderr
    assert_secret_kept(result)


# --------------------------------------------------------------------------- odd input


def pieces(secret: str, size: int = 5) -> list[str]:
    """``secret`` whole, each part around its ``@``, and every run of ``size`` characters:
    no part of it may show, not even what is left after a masking that stopped too early."""
    parts = {secret, *(part for part in secret.split("@") if part)}
    parts.update(secret[i : i + size] for i in range(len(secret) - size + 1))
    return sorted(parts)


def assert_no_piece_of(result: Result, secret: str) -> None:
    for piece in pieces(secret):
        assert piece not in result.stdout, (piece, result)
        assert piece not in result.stderr, (piece, result)


STRAY = f"postgresql+psycopg://app:{PASSWORD}@127.0.0.1:1/app"


@pytest.mark.parametrize(
    "args",
    [
        ["upgrade", "head", STRAY],
        ["current", STRAY],
        [STRAY],
        ["--database-url", STRAY, STRAY.replace("app:", "other:")],
        ["upgrade", "--lock-timeout", STRAY],
        ["history", "-r", "base:head", STRAY],
    ],
    ids=["extra-argument", "no-argument-taken", "as-a-command", "after-a-url", "bad-value", "rr"],
)
def test_a_url_typed_in_the_wrong_place_is_masked_in_usage_errors(
    sqlite_project: Project, args: list[str]
) -> None:
    project = with_repository(sqlite_project)
    result = project.run_cli(*args)
    assert result.exit_code == 2, result
    assert "Error:" in result.stderr
    assert_no_piece_of(result, PASSWORD)
    if "--lock-timeout" not in args:  # that message does not quote the value
        assert ":***@127.0.0.1:1/app" in result.stderr


AT_PASSWORD = "Xk9q@Zr7w"


@pytest.mark.parametrize("where", ["flag", "environment", "file", "bind"])
def test_a_password_with_an_unencoded_at_sign_is_refused(
    sqlite_project: Project, where: str
) -> None:
    project = with_repository(sqlite_project)
    url = f"postgresql+psycopg://app:{AT_PASSWORD}@127.0.0.1:1/app"
    args: list[str] = ["current"]
    env: dict[str, str] = {}
    if where == "flag":
        args = ["--database-url", url, *args]
    elif where == "environment":
        env["MIGRATECTL_DATABASE_URL"] = url
    elif where == "file":
        project.write("migratectl.toml", f'database_url = "{url}"\n')
    else:
        project.write(
            "migratectl.toml",
            f'database_url = "sqlite:///app.db"\n[binds.other]\ndatabase_url = "{url}"\n',
        )
    for flags in ([], ["-v"]):
        result = project.run_cli(*flags, *args, env=env)
        assert result.exit_code == 2, result
        assert 'unencoded "@"' in result.stderr
        assert "%40" in result.stderr  # how to encode it
        assert "Traceback" not in result.stderr
        assert_no_piece_of(result, AT_PASSWORD)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_init_writes_a_reference_to_the_password_not_the_password(
    sqlite_project: Project, backend: str, secret_login: dict[str, str]
) -> None:
    project = sqlite_project
    url = secret_login["postgresql"]
    result = project.run_cli("--database-url", url, "--models", "models", "init")
    assert result.exit_code == 0, result
    assert_no_piece_of(result, PASSWORD)
    assert "DATABASE_PASSWORD" in result.stderr
    written = (project.path / "migratectl.toml").read_text()
    for piece in pieces(PASSWORD):
        assert piece not in written
    reference = url.replace(f":{PASSWORD}@", ":${DATABASE_PASSWORD}@")
    assert f'database_url = "{reference}"' in written

    result = project.run_cli("current")
    assert result.exit_code == 2, result
    assert "DATABASE_PASSWORD" in result.stderr

    result = project.run_cli("current", env={"DATABASE_PASSWORD": PASSWORD})
    assert result.exit_code == 0, result  # the password is read from the variable
    assert_no_piece_of(result, PASSWORD)


UNICODE_PASSWORD = "пароль密码Ωé"


def test_a_non_latin1_password_logs_in_with_pymysql(
    sqlite_project: Project, tmp_path: Path
) -> None:
    require_server("mariadb")
    databases = fresh_database("mariadb", tmp_path)
    url = make_url(next(databases))
    user = f"mc_uni_{uuid.uuid4().hex[:10]}"
    admin = create_engine(SERVER_URLS["mariadb"], poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            text(f"CREATE USER '{user}'@'%' IDENTIFIED BY :password"),
            {"password": UNICODE_PASSWORD},
        )
        connection.execute(text(f"GRANT ALL ON {url.database}.* TO '{user}'@'%'"))
    try:
        project = with_repository(sqlite_project)
        login = url.set(username=user, password=UNICODE_PASSWORD)
        project.env["MIGRATECTL_DATABASE_URL"] = login.render_as_string(hide_password=False)
        for args in (["-v", "upgrade"], ["current"], ["check"]):
            result = project.run_cli(*args)
            assert result.exit_code in (0, 1), result
            assert "Unexpected" not in result.stderr
            assert_no_piece_of(result, UNICODE_PASSWORD)
        assert project.run_cli("current").stdout.strip() == "5ec000000001 (head)"
        wrong = login.set(password=UNICODE_PASSWORD[::-1]).render_as_string(hide_password=False)
        result = project.run_cli("current", env={"MIGRATECTL_DATABASE_URL": wrong})
        assert result.exit_code == 3, result  # a wrong one is refused as a login, not a bug
        assert "refused the login" in result.stderr
        assert_no_piece_of(result, UNICODE_PASSWORD[::-1])
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP USER '{user}'@'%'"))
        admin.dispose()
        next(databases, None)
