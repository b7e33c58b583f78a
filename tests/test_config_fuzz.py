"""Property: whatever migratectl.toml holds, `current` and `check` end with a clean exit.

Random keys (known ones and garbage), random value types, random TOML text (invalid syntax
included): the exit code is one of 0-3, nothing says "Traceback", and nothing reports an
"Unexpected" error (what the CLI prints for an exception nobody translated: a bug).

Values that name modules or databases come from safe lists, so a random string never imports
a real module (``antigravity`` opens a browser) or reaches for a server: SQLite only.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from typing import Any

import pytest
from conftest import Project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

COMMANDS = [["current"], ["current", "--json"], ["check"], ["check", "--json"]]
ALLOWED_EXIT_CODES = {0, 1, 2, 3}

MODELS = """
import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)


metadata = Base.metadata
everything = [metadata]
"""

HOOKS = """
def ok(config):
    config.set_main_option("revision_environment", "true")


def explode(config):
    raise RuntimeError("hook exploded")


def skip_tmp(obj, name, type_, reflected, compare_to):
    return not name.startswith("tmp_")


not_callable = 3
"""

GARBAGE_NAME = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)
# A string that can never name an importable module: it starts with "zz_fuzz_".
UNIMPORTABLE = st.from_regex(r"zz_fuzz_[a-z_]{0,8}(:[a-z]{1,6})?", fullmatch=True)
FREE_TEXT = st.text(max_size=20)

SAFE_MODELS = st.one_of(
    st.sampled_from(
        [
            "models",
            "models:Base",
            "models:metadata",
            "models:everything",
            "models:User",
            "models:nope",
            "hooks",
            "hooks:ok",
            ":Base",
            "models:",
            ".models",
            "models..x",
        ]
    ),
    UNIMPORTABLE,
)
SAFE_CALLABLES = st.one_of(
    st.sampled_from(
        [
            "hooks:ok",
            "hooks:explode",
            "hooks:not_callable",
            "hooks:nope",
            "hooks",
            "hooks:skip_tmp",
            "models:Base",
            ":",
            "hooks:ok.x",
        ]
    ),
    UNIMPORTABLE,
)
SAFE_URLS = st.sampled_from(
    [
        "sqlite:///app.db",
        "sqlite://",
        "sqlite:///:memory:",
        "sqlite:///${FUZZ_DB:-fuzz}.db",
        "sqlite:///${FUZZ_UNSET_VARIABLE}.db",
        "sqlite:////no/such/folder/app.db",
        "sqlite:///sub/../app.db?timeout=1",
        "sqlite+pysqlite:///app.db",
        "sqlite+nosuchdriver:///app.db",
        "nosuchdialect://host/db",
        "not a url",
        "",
        "://",
    ]
)
SCALARS = st.one_of(
    FREE_TEXT,
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(),
    st.booleans(),
    st.dates(),
    st.datetimes(),
    st.times(),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(GARBAGE_NAME, inner, max_size=3),
    ),
    max_leaves=6,
)


# A random string must never reach a key that imports a module or opens a database.
NOT_A_STRING = VALUES.filter(lambda value: not isinstance(value, str))
IMPORTING_KEYS = {"database_url", "models", "configure_hook", "configure", "binds"}


def right_value_for(key: str) -> st.SearchStrategy[Any]:
    """A value of the kind ``key`` takes (which may still be a bad one)."""
    right: dict[str, st.SearchStrategy[Any]] = {
        "database_url": SAFE_URLS,
        "models": SAFE_MODELS,
        "directory": st.sampled_from(["migrations", "nowhere", "", ".", "${FUZZ_DIR:-migrations}"]),
        "compare_type": st.booleans(),
        "render_as_batch": st.booleans(),
        "sys_path": st.lists(st.sampled_from([".", "src", "..", "${FUZZ_SRC:-src}"])),
        "file_template": st.one_of(
            st.sampled_from(["%(rev)s_%(slug)s", "%(year)d_%(rev)s", "%(nope)s", "%(rev", "%"]),
            FREE_TEXT,
        ),
        "configure_hook": st.one_of(SAFE_CALLABLES, st.lists(SAFE_CALLABLES, max_size=2)),
        "lock_timeout": st.one_of(st.floats(), st.integers(min_value=-5, max_value=10**6)),
        "ddl_lock_timeout": st.one_of(st.floats(), st.integers(min_value=-5, max_value=10**7)),
        "ddl_retries": st.one_of(st.integers(min_value=-3, max_value=5), st.floats()),
        "configure": st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "version_table",
                        "version_table_schema",
                        "transaction_per_migration",
                        "include_object",
                        "include_name",
                        "process_revision_directives",
                        "render_item",
                        "compare_server_default",
                        "include_schemas",
                        "compare_type",
                        "render_as_batch",
                        "user_module_prefix",
                    ]
                ),
                GARBAGE_NAME,
            ),
            st.one_of(SAFE_CALLABLES, SCALARS.filter(lambda value: not isinstance(value, str))),
            max_size=3,
        ),
        "alembic": st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "truncate_slug_length",
                        "timezone",
                        "revision_environment",
                        "sourceless",
                        "version_locations",
                        "post_write_hooks",
                        "file_template",
                    ]
                ),
                GARBAGE_NAME,
            ),
            VALUES,
            max_size=3,
        ),
        "binds": st.dictionaries(
            GARBAGE_NAME,
            st.dictionaries(
                st.sampled_from(["database_url", "models", "databse_url"]),
                st.one_of(SAFE_URLS, SAFE_MODELS),
                max_size=2,
            ),
            max_size=2,
        ),
    }
    return right[key]


KNOWN_KEYS = [
    "database_url",
    "models",
    "directory",
    "compare_type",
    "render_as_batch",
    "sys_path",
    "file_template",
    "configure_hook",
    "lock_timeout",
    "ddl_lock_timeout",
    "ddl_retries",
    "configure",
    "alembic",
    "binds",
]


@st.composite
def config_tables(draw: st.DrawFn) -> dict[str, Any]:
    """Mostly tame documents (values of the right kind, which get past validation and reach
    Alembic), some wild ones (values of any type, unknown keys)."""
    wild = draw(st.integers(min_value=0, max_value=3)) == 0
    table: dict[str, Any] = {"database_url": draw(SAFE_URLS)}
    for key in draw(st.lists(st.sampled_from(KNOWN_KEYS), max_size=6, unique=True)):
        if draw(st.integers(min_value=0, max_value=2 if wild else 15)) == 0:
            table[key] = draw(NOT_A_STRING if key in IMPORTING_KEYS else VALUES)
        else:
            table[key] = draw(right_value_for(key))
    if wild and draw(st.booleans()):
        table[draw(GARBAGE_NAME)] = draw(VALUES)
    return table


# --------------------------------------------------------------------------- TOML text


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # JSON string escapes are valid in TOML basic strings
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def toml_document(table: dict[str, Any]) -> str:
    return "".join(f"{toml_key(k)} = {toml_value(v)}\n" for k, v in table.items())


@st.composite
def mangled_documents(draw: st.DrawFn) -> str:
    """A valid document with a few characters inserted or deleted: often invalid TOML."""
    text = toml_document(draw(config_tables()))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(list('="[]{},.#\n\\$ '))) + text[at:]
        else:
            text = text[:at] + text[at + 1 :]
    return text


TOML_ISH = st.text(alphabet=st.sampled_from(list('abdmu_= "[]{}.,#\n\\$:-01tf')), max_size=60)


# --------------------------------------------------------------------------- the property


@pytest.fixture
def fuzz_project(sqlite_project: Project) -> Project:
    sqlite_project.write("models.py", MODELS)
    sqlite_project.write("hooks.py", HOOKS)
    sqlite_project.config()
    result = sqlite_project.run("init")
    assert result.exit_code == 0, result
    return sqlite_project


def assert_clean_exit(project: Project, document: str | bytes, command: list[str]) -> None:
    path = project.path / "migratectl.toml"
    if isinstance(document, bytes):
        path.write_bytes(document)
    else:
        path.write_text(document)
    result = project.run(*command)
    context = f"\n--- migratectl.toml ---\n{document!r}\n--- {command} ---\n{result!r}"
    assert result.exit_code in ALLOWED_EXIT_CODES, context
    assert "Traceback" not in result.output, context
    assert "Unexpected" not in result.output, context
    if "--json" in command and result.exit_code in (0, 1):
        json.loads(result.stdout)
    # Neither command may write to the database: a missing SQLite file stays missing.
    assert not (project.path / "app.db").exists(), context


FUZZ_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@FUZZ_SETTINGS
@given(
    document=st.one_of(
        config_tables().map(toml_document),
        config_tables().map(toml_document),
        mangled_documents(),
    ),
    command=st.sampled_from(COMMANDS),
)
def test_random_configuration_exits_cleanly(
    fuzz_project: Project, document: str, command: list[str]
) -> None:
    assert_clean_exit(fuzz_project, document, command)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    document=st.one_of(TOML_ISH, st.text(max_size=40), st.binary(max_size=30)),
    command=st.sampled_from(COMMANDS),
)
def test_random_text_exits_cleanly(
    fuzz_project: Project, document: str | bytes, command: list[str]
) -> None:
    assert_clean_exit(fuzz_project, document, command)


def test_fuzz_documents_are_valid_toml() -> None:
    """The generator writes TOML that parses back to the table it came from."""
    import tomllib

    table = {
        "database_url": "sqlite:///app.db",
        "we ird": [1, 2.5, 'x\n"y"\u0001', True],
        "configure": {"version_table": "v", "nested": {"a": -math.inf}},
        "when": datetime.date(2024, 1, 2),
    }
    assert tomllib.loads(toml_document(table)) == table
