"""Settings: the configuration file, environment variables and flags, merged and validated.

Where the values come from (files, ``.env``, interpolation, URL spellings) is
:mod:`.sources`; what each key may hold, with "did you mean" for unknown keys, is
:mod:`.validation`.

Precedence, highest first: flags, environment variables, the configuration file, defaults.
Nothing here imports SQLAlchemy or Alembic, so loading settings stays cheap.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from migratectl.errors import ConfigError
from migratectl.settings.sources import (
    CONFIG_FILENAME,
    PYPROJECT_FILENAME,
    check_url_login,
    environment_with_env_file,
    find_config_file,
    interpolate,
    normalize_url,
    read_config_file,
    resolve_sqlite_path,
)
from migratectl.settings.validation import (
    check_alembic_options,
    check_file_template,
    lint_dialect,
    lint_rule_ids,
    lint_version,
    validate,
)

DEFAULT_DIRECTORY = "migrations"
DEFAULT_LOCK_TIMEOUT = 600.0
MAX_DDL_LOCK_TIMEOUT = 2_147_483  # seconds: PostgreSQL's lock_timeout is an int of milliseconds

ENV_DATABASE_URL = "MIGRATECTL_DATABASE_URL"
ENV_DATABASE_URL_FALLBACK = "DATABASE_URL"
ENV_MODELS = "MIGRATECTL_MODELS"
ENV_DIRECTORY = "MIGRATECTL_DIRECTORY"
ENV_CONFIG = "MIGRATECTL_CONFIG"


@dataclass
class BindSettings:
    """One extra database of a multi-database repository (``[binds.NAME]``)."""

    name: str
    database_url: str | None
    models: str | None


@dataclass
class Settings:
    """Everything a command needs to know about the project, already merged and validated."""

    database_url: str | None = None
    models: str | None = None
    directory: Path = field(default_factory=lambda: Path.cwd() / DEFAULT_DIRECTORY)
    compare_type: bool = True
    render_as_batch: bool = True
    sys_path: list[Path] = field(default_factory=list)
    file_template: str | None = None
    configure_hooks: list[str] = field(default_factory=list)
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT
    run_within: str | None = None
    env_file: Path | None = None  # the dotenv file that was read, if any
    ddl_lock_timeout: float | None = None  # None: the server's own (PostgreSQL: no limit)
    ddl_retries: int = 0
    configure: dict[str, Any] = field(default_factory=dict)
    alembic: dict[str, Any] = field(default_factory=dict)
    binds: dict[str, BindSettings] = field(default_factory=dict)
    # [lint]: the rule ids turned off, the dialect whose rules run, the servers' versions.
    lint_disable: frozenset[str] = frozenset()
    lint_dialect: str | None = None
    lint_postgresql_version: tuple[int, ...] | None = None
    lint_mysql_version: tuple[int, ...] | None = None
    config_file: Path | None = None
    x_args: list[str] = field(default_factory=list)
    # Where database_url / models / directory came from ("--database-url", a variable, a file).
    sources: dict[str, str] = field(default_factory=dict)
    # True while a command runs inside the project
    # (migratectl.repository.project.project_environment).
    in_project: bool = False

    @property
    def base_dir(self) -> Path:
        """The folder relative paths are resolved against."""
        return self.config_file.parent if self.config_file else Path.cwd()

    def all_database_urls(self) -> dict[str, str]:
        """Name -> URL of every database of a multi-database repository ("" the default)."""
        urls = {"": self.require_database_url()}
        for name, bind in self.binds.items():
            if not bind.database_url:
                raise ConfigError(
                    f"[binds.{name}] has no database_url.",
                    hint=f"Set database_url in [binds.{name}] (it may read the environment: "
                    '"${VAR}").',
                )
            urls[name] = bind.database_url
        return urls

    def require_database_url(self) -> str:
        if not self.database_url:
            raise ConfigError(
                "No database URL is configured.",
                hint=f"Set database_url in {self._config_place()}, the {ENV_DATABASE_URL} "
                f"or {ENV_DATABASE_URL_FALLBACK} environment variable, or pass --database-url.",
            )
        return self.database_url

    def _config_place(self) -> str:
        """Where a setting goes: the configuration file in use, or the one to create."""
        if self.config_file is not None and self.config_file.name == PYPROJECT_FILENAME:
            return f"[tool.migratectl] of {self.config_file.name}"
        return self.config_file.name if self.config_file else CONFIG_FILENAME

    def require_models(self) -> str:
        if not self.models:
            raise ConfigError(
                "No models are configured, and this command compares them with the database.",
                hint=f'Set models = "package.module" in {self._config_place()}, the {ENV_MODELS} '
                "environment variable, or pass --models.",
            )
        return self.models

    def activate_sys_path(self) -> None:
        """Put the configuration file's folder and ``sys_path`` on ``sys.path`` (once each)."""
        for entry in reversed([self.base_dir, *self.sys_path]):
            text = str(entry)
            if text not in sys.path:
                sys.path.insert(0, text)


def load_settings(
    *,
    config: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    models: str | None = None,
    directory: str | os.PathLike[str] | None = None,
    x_args: list[str] | None = None,
    lock_timeout: float | None = None,
    ddl_lock_timeout: float | None = None,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    config_must_exist: bool = True,
    url_needed: bool = True,
) -> Settings:
    """Merge flags (the keyword arguments), the environment, the file and the defaults.

    ``url_needed=False`` (lint, which only reads the URL's dialect): a ``database_url`` in the
    file whose ``${VAR}`` is not set is left out instead of being an error, as on a developer's
    machine or a CI job that has no database."""
    env = os.environ if environ is None else environ
    here = (cwd or Path.cwd()).resolve()

    config_path: Path | None = None
    explicit = config if config is not None else env.get(ENV_CONFIG) or None
    if explicit is not None:
        config_path = (here / Path(explicit)).resolve()
        if config_path.is_dir():
            raise ConfigError(
                f"The configuration file {config_path} is a folder.",
                hint="Point --config / MIGRATECTL_CONFIG at a TOML file.",
            )
        if not config_path.is_file() and config_must_exist:
            raise ConfigError(
                f"The configuration file {config_path} does not exist.",
                hint="Check --config / MIGRATECTL_CONFIG, or run `migratectl init` to create it.",
            )
    else:
        config_path = find_config_file(here)

    table: dict[str, Any] = {}
    if config_path is not None and config_path.is_file():
        table = read_config_file(config_path)
        validate(table, str(config_path))
    base = config_path.parent if config_path is not None else here
    where = str(config_path) if config_path is not None else "defaults"
    env, env_file, added = environment_with_env_file(table, base, env, where)
    if environ is None:
        # As Flask's CLI does: env.py, the revisions and the application see them too.
        for name, value in added.items():
            os.environ.setdefault(name, value)

    def from_file(key: str, default: Any = None) -> Any:
        # Interpolated only when used: a value a flag or variable overrides needs no ${VAR}.
        return interpolate(table[key], key, env) if key in table else default

    settings = Settings(config_file=config_path, env_file=env_file)
    sources = settings.sources

    # database_url: flag > MIGRATECTL_DATABASE_URL > DATABASE_URL > file
    if database_url:
        settings.database_url, sources["database_url"] = database_url, "--database-url"
    elif env.get(ENV_DATABASE_URL):
        settings.database_url, sources["database_url"] = env[ENV_DATABASE_URL], ENV_DATABASE_URL
    elif env.get(ENV_DATABASE_URL_FALLBACK):
        settings.database_url = env[ENV_DATABASE_URL_FALLBACK]
        sources["database_url"] = ENV_DATABASE_URL_FALLBACK
    elif "database_url" in table:
        try:
            settings.database_url = resolve_sqlite_path(from_file("database_url"), base)
            sources["database_url"] = where
        except ConfigError:
            if url_needed:
                raise
    if settings.database_url:
        settings.database_url = normalize_url(settings.database_url)
        check_url_login(settings.database_url, sources["database_url"])

    if models:
        settings.models, sources["models"] = models, "--models"
    elif env.get(ENV_MODELS):
        settings.models, sources["models"] = env[ENV_MODELS], ENV_MODELS
    elif "models" in table:
        settings.models, sources["models"] = from_file("models"), where

    if directory is not None:
        settings.directory = (here / Path(directory)).resolve()
        sources["directory"] = "--directory"
    elif env.get(ENV_DIRECTORY):
        settings.directory = (here / env[ENV_DIRECTORY]).resolve()
        sources["directory"] = ENV_DIRECTORY
    else:
        settings.directory = (base / from_file("directory", DEFAULT_DIRECTORY)).resolve()
        if "directory" in table:
            sources["directory"] = where

    settings.compare_type = table.get("compare_type", True)
    settings.render_as_batch = table.get("render_as_batch", True)
    settings.sys_path = [(base / p).resolve() for p in from_file("sys_path", ["."])]
    settings.file_template = from_file("file_template")
    settings.alembic = dict(from_file("alembic", {}))
    check_alembic_options(settings.alembic, where)
    for template in (settings.file_template, settings.alembic.get("file_template")):
        if isinstance(template, str):
            check_file_template(template, where)
    hooks = from_file("configure_hook", [])
    settings.configure_hooks = [hooks] if isinstance(hooks, str) else list(hooks)
    settings.lock_timeout = float(
        lock_timeout
        if lock_timeout is not None
        else table.get("lock_timeout", DEFAULT_LOCK_TIMEOUT)
    )
    if math.isnan(settings.lock_timeout) or settings.lock_timeout < 0:
        raise ConfigError(
            f"lock_timeout must be a number of seconds, 0 or more (not {settings.lock_timeout:g}).",
            hint=f"Fix lock_timeout in {where}, or pass --lock-timeout.",
        )
    settings.run_within = from_file("run_within")
    ddl_timeout = (
        ddl_lock_timeout if ddl_lock_timeout is not None else table.get("ddl_lock_timeout")
    )
    if ddl_timeout is not None:
        if math.isnan(ddl_timeout) or not 0 < ddl_timeout <= MAX_DDL_LOCK_TIMEOUT:
            raise ConfigError(
                "ddl_lock_timeout must be a number of seconds greater than 0 and at most "
                f"{MAX_DDL_LOCK_TIMEOUT} (not {ddl_timeout:g}).",
                hint=f"Fix ddl_lock_timeout in {where}, or pass --ddl-lock-timeout; leave it "
                "out to keep the server's own limit.",
            )
        settings.ddl_lock_timeout = float(ddl_timeout)
    settings.ddl_retries = table.get("ddl_retries", 0)
    if settings.ddl_retries < 0:
        raise ConfigError(
            f"ddl_retries must be 0 or more (not {settings.ddl_retries}).",
            hint=f"Fix ddl_retries in {where}.",
        )
    settings.configure = dict(from_file("configure", {}))
    for name, bind in from_file("binds", {}).items():
        url = bind.get("database_url")
        if url:
            check_url_login(url, f"[binds.{name}] in {where}")
        settings.binds[name] = BindSettings(
            name=name,
            database_url=resolve_sqlite_path(normalize_url(url), base) if url else None,
            models=bind.get("models"),
        )
    lint = from_file("lint", {})
    settings.lint_disable = lint_rule_ids(lint.get("disable", []), where)
    if "dialect" in lint:
        settings.lint_dialect = lint_dialect(lint["dialect"], where)
    if "postgresql_version" in lint:
        settings.lint_postgresql_version = lint_version(
            "postgresql_version", lint["postgresql_version"], where
        )
    if "mysql_version" in lint:
        settings.lint_mysql_version = lint_version("mysql_version", lint["mysql_version"], where)
    settings.x_args = list(x_args or [])
    return settings
