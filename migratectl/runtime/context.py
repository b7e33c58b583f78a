"""What env.py knows: the keys of ``Config.attributes`` through which the commands talk
to it, the settings (loaded here when another tool drives Alembic), whether the models are
wanted, and the keyword arguments for ``context.configure()``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from migratectl.settings import Settings, load_settings
from migratectl.settings.validation import CONFIGURE_CALLABLES

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory


# Keys of Config.attributes through which the commands talk to env.py.
SETTINGS = "migratectl.settings"


OUTPUT = "migratectl.output"


AUTOGENERATE = "migratectl.autogenerate"  # True: load the models for a comparison


WRITES = "migratectl.writes"  # False: the command only reads (no file, no version table)


LOCK_TIMEOUT = "migratectl.lock_timeout"  # seconds, or None for no lock


TARGETS = "migratectl.targets"  # the revisions upgrade / downgrade / stamp were given


LOGGING = "migratectl.logging"  # migratectl.logs.AlembicLogging, the hold on Alembic's loggers


APPLIED = "migratectl.applied"  # AppliedRevisions: what upgrade / downgrade / stamp did


def environment_of(context: Any) -> Any:
    """The EnvironmentContext behind the ``alembic.context`` module proxy."""
    return getattr(context, "_proxy", None) or context


def settings_of(config: Any) -> Settings:
    settings = config.attributes.get(SETTINGS)
    if settings is None:
        # Driven by something other than migratectl (pytest-alembic, alembic's own API).
        settings = load_settings()
        config.attributes[SETTINGS] = settings
    return settings


def wants_models(context: Any) -> bool:
    """True when this run compares the models with the database (autogenerate)."""
    config = context.config
    if AUTOGENERATE in config.attributes:
        return bool(config.attributes[AUTOGENERATE])
    revision_context = environment_of(context).context_opts.get("revision_context")
    command_args = getattr(revision_context, "command_args", None) or {}
    return bool(command_args.get("autogenerate"))


def load_target_metadata(models: str | None, settings: Settings) -> Any:
    from migratectl.models import resolve_metadata

    settings.activate_sys_path()
    return resolve_metadata(models or settings.require_models())


def configure_options(settings: Settings, overrides: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments for ``context.configure()``: defaults, ``[configure]``, env.py's."""
    from migratectl.autogen import rewrite_operations
    from migratectl.autogen.imports import render_item_with_imports
    from migratectl.models import import_callable

    options: dict[str, Any] = {
        "compare_type": settings.compare_type,
        "render_as_batch": settings.render_as_batch,
        "transaction_per_migration": True,
    }
    for key, value in settings.configure.items():
        if key in CONFIGURE_CALLABLES and isinstance(value, str):
            value = import_callable(value, what=f"[configure] {key}")
        options[key] = value
    options.update(overrides)
    # Ours first: the user's own hook sees (and has the last word on) the rewritten operations.
    options["process_revision_directives"] = chain_callbacks(
        rewrite_operations, options.get("process_revision_directives")
    )
    # Theirs first here: what the user's render_item renders, it also imports.
    options["render_item"] = render_item_with_imports(options.get("render_item"))
    return options


def chain_callbacks(*callbacks: Callable[..., None] | None) -> Callable[..., None]:
    present = [cb for cb in callbacks if cb is not None]

    def call_all(*args: Any, **kw: Any) -> None:
        for cb in present:
            cb(*args, **kw)

    return call_all


_RELATIVE_SUFFIX = re.compile(r"[+-]\d+$")


def check_targets(context: Any) -> None:
    """Resolve the revisions the command was given before connecting, so an unknown one (or
    "head" among several heads) is refused before anything is written: no SQLite file, no
    lock file, no version table (MySQL's DDL would keep one). The revision files are all
    loaded here, before the run: one that imports the application (and its logging set-up)
    has done so before migratectl's output takes Alembic's log lines again."""
    from alembic.script.revision import RevisionError
    from alembic.util import CommandError

    script: ScriptDirectory = context.script
    script.get_heads()
    for target in context.config.attributes.get(TARGETS) or ():
        for token in str(target).split(":"):
            token = token.strip()
            if token in ("", "base", "heads", "current") or _RELATIVE_SUFFIX.fullmatch(token):
                continue
            try:
                script.get_revisions(token)
                continue
            except (RevisionError, CommandError) as exc:
                error: Exception = exc
            relative_to = _RELATIVE_SUFFIX.sub("", token).rstrip("@")
            if relative_to and relative_to != token:
                try:  # "ae10+2", "head-1", "branch@+1": Alembic resolves the step itself
                    script.get_revisions(relative_to)
                    continue
                except (RevisionError, CommandError) as exc:
                    error = exc
            raise CommandError(str(error)) from None


def reclaim_logging(context: Any) -> None:
    """Route Alembic's log lines to migratectl's output again: env.py, the models or the
    application they import may have configured logging since the command started."""
    hold = context.config.attributes.get(LOGGING)
    if hold is not None:
        hold.take()
