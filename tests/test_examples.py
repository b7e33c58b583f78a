"""What the repository shows users works: migratectl.toml.example, examples/, the README."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import Project
from sqlalchemy import inspect

from migratectl.settings import load_settings
from migratectl.settings.sources import read_config_file
from migratectl.settings.validation import TOP_LEVEL_KEYS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "migratectl.toml.example"
BASIC = ROOT / "examples" / "basic"
README = ROOT / "README.md"

# A commented-out setting in migratectl.toml.example: "# key = value" or "# [table]".
_COMMENTED_SETTING = re.compile(r'^# (\[[\w.]+\]|"?[\w.]+"? = .*)$')


def _copy_example_config(folder: Path, *, uncomment: bool = False) -> Path:
    text = EXAMPLE_CONFIG.read_text()
    if uncomment:
        text = "\n".join(_COMMENTED_SETTING.sub(r"\1", line) for line in text.splitlines())
    target = folder / "migratectl.toml"
    target.write_text(text)
    return target


def test_example_config_loads_as_copied(tmp_path: Path) -> None:
    _copy_example_config(tmp_path)

    settings = load_settings(cwd=tmp_path, environ={})

    assert settings.config_file == tmp_path.resolve() / "migratectl.toml"
    assert settings.database_url == f"sqlite:///{tmp_path.resolve() / 'app.db'}"
    assert settings.models == "myapp.models"
    assert settings.directory == tmp_path.resolve() / "migrations"
    assert settings.sys_path == [tmp_path.resolve()]
    assert (settings.compare_type, settings.render_as_batch) == (True, True)
    assert settings.lock_timeout == 600
    assert settings.configure == {"transaction_per_migration": True}
    assert settings.alembic == {"truncate_slug_length": 40}
    assert settings.file_template is None
    assert settings.configure_hooks == []
    assert settings.binds == {}


def test_example_config_reads_the_database_url_from_the_environment(tmp_path: Path) -> None:
    _copy_example_config(tmp_path)

    settings = load_settings(
        cwd=tmp_path, environ={"APP_DATABASE_URL": "postgresql+psycopg://app:pw@db/app"}
    )

    assert settings.database_url == "postgresql+psycopg://app:pw@db/app"


def test_example_config_shows_every_key_and_each_loads_uncommented(tmp_path: Path) -> None:
    path = _copy_example_config(tmp_path, uncomment=True)
    table = read_config_file(path)

    assert set(table) == set(TOP_LEVEL_KEYS)
    assert {
        "compare_server_default",
        "include_schemas",
        "version_table",
        "version_table_schema",
        "transaction_per_migration",
        "include_object",
    } <= set(table["configure"])
    assert {"truncate_slug_length", "timezone", "post_write_hooks"} <= set(table["alembic"])
    settings = load_settings(cwd=tmp_path, environ={})
    assert settings.configure["include_object"] == "myapp.migrations:include_object"
    assert settings.configure_hooks == ["myapp.migrations:configure"]
    assert settings.alembic["post_write_hooks"]["hooks"] == "ruff"
    assert settings.binds["analytics"].models == "myapp.analytics_models"
    assert settings.binds["analytics"].database_url == (
        f"sqlite:///{tmp_path.resolve() / 'analytics.db'}"
    )


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"examples/basic/blog/models.py no longer holds {old!r}"
    return text.replace(old, new)


def test_basic_example_end_to_end(tmp_path: Path) -> None:
    folder = tmp_path / "basic"
    shutil.copytree(
        BASIC, folder, ignore=shutil.ignore_patterns("__pycache__", "blog.db", "migrations")
    )
    config_before = (folder / "migratectl.toml").read_text()
    blog = Project(folder, f"sqlite:///{folder / 'blog.db'}")

    init = blog.run_cli("init")
    assert init.exit_code == 0, init
    assert (folder / "migrations" / "env.py").is_file()
    assert (folder / "migratectl.toml").read_text() == config_before

    initial = blog.run_cli("migrate", "-m", "initial")
    assert initial.exit_code == 0, initial
    [first_file] = blog.revision_files()
    script = first_file.read_text()
    assert "op.create_table('users'" in script
    assert "op.create_table('posts'" in script
    assert "ix_posts_author_created" in script

    upgraded = blog.run_cli("upgrade")
    assert upgraded.exit_code == 0, upgraded
    assert blog.tables() == {"alembic_version", "users", "posts"}
    engine = blog.engine()
    try:
        indexes = {ix["name"] for ix in inspect(engine).get_indexes("posts")}
        foreign_keys = inspect(engine).get_foreign_keys("posts")
    finally:
        engine.dispose()
    assert "ix_posts_author_created" in indexes
    assert [fk["referred_table"] for fk in foreign_keys] == ["users"]
    [first_rev] = blog.version()

    checked = blog.run_cli("check")
    assert checked.exit_code == 0, checked

    # The configuration is found from a sub-directory too.
    from_package = blog.run_cli("current", cwd=folder / "blog")
    assert from_package.exit_code == 0, from_package
    assert from_package.stdout.strip() == f"{first_rev} (head)"

    blog.query("INSERT INTO users (id, email, name) VALUES (1, 'ada@example.com', 'Ada')")
    blog.query("INSERT INTO posts (id, author_id, title, body) VALUES (1, 1, 'Hello', 'First')")

    models = folder / "blog" / "models.py"
    text = models.read_text()
    text = _replace_once(
        text,
        "    name: Mapped[str] = mapped_column(sa.String(100))\n",
        "    name: Mapped[str] = mapped_column(sa.String(100))\n"
        "    bio: Mapped[str | None] = mapped_column(sa.Text)\n",
    )
    text = _replace_once(
        text,
        "    body: Mapped[str] = mapped_column(sa.Text)\n",
        "    body: Mapped[str] = mapped_column(sa.Text)\n"
        "    published: Mapped[bool] = mapped_column(server_default=sa.false())\n",
    )
    models.write_text(text)

    behind = blog.run_cli("check")
    assert behind.exit_code == 1, behind
    assert "add_column users.bio" in behind.stdout
    assert "add_column posts.published" in behind.stdout

    second = blog.run_cli("migrate", "-m", "add bio and published")
    assert second.exit_code == 0, second
    assert len(blog.revision_files()) == 2

    assert blog.run_cli("upgrade").exit_code == 0
    [second_rev] = blog.version()
    assert second_rev != first_rev
    assert {"bio"} <= set(blog.columns("users"))
    assert {"published"} <= set(blog.columns("posts"))
    assert blog.run_cli("check").exit_code == 0

    downgraded = blog.run_cli("downgrade", "-1")
    assert downgraded.exit_code == 0, downgraded
    assert blog.version() == [first_rev]
    assert "bio" not in blog.columns("users")
    assert "published" not in blog.columns("posts")
    assert blog.query("SELECT id, email, name FROM users") == [(1, "ada@example.com", "Ada")]
    assert blog.query("SELECT id, author_id, title FROM posts") == [(1, 1, "Hello")]

    assert blog.run_cli("upgrade").exit_code == 0
    assert blog.version() == [second_rev]
    assert blog.query("SELECT id, name, bio FROM users") == [(1, "Ada", None)]
    assert blog.query("SELECT id, title, published FROM posts") == [(1, "Hello", False)]
    assert blog.run_cli("check").exit_code == 0


def _readme_section(title: str) -> str:
    text = README.read_text()
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, f"README.md has no '## {title}' section"
    return match.group(1)


def test_readme_opens_with_install_and_test_commands() -> None:
    first_block = re.search(r"```(?:sh|bash|console)?\n(.*?)```", README.read_text(), re.S)
    assert first_block
    assert first_block.group(1).split("\n")[:2] == ["pip install -e '.[dev]'", "pytest"]


def test_readme_configuration_reference_names_every_key() -> None:
    section = _readme_section("Configuration")
    missing = [
        key for key in TOP_LEVEL_KEYS if f"`{key}`" not in section and f"`[{key}" not in section
    ]
    assert missing == []


# SPEC §2, "Parity with Flask-Migrate": the commands the README's reference documents.
PARITY_COMMANDS = [
    "init",
    "list-templates",
    "revision",
    "migrate",
    "check",
    "edit",
    "merge",
    "upgrade",
    "downgrade",
    "stamp",
    "current",
    "history",
    "show",
    "heads",
    "branches",
]


def test_readme_command_reference_documents_every_flask_migrate_command() -> None:
    from migratectl.cli import app

    section = _readme_section("Commands")
    registered = {command.name for command in app.registered_commands}
    assert set(PARITY_COMMANDS) <= registered
    missing = [name for name in PARITY_COMMANDS if f"### `migratectl {name}`" not in section]
    assert missing == []
