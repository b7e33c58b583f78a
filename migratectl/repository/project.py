"""The user's project around a command: its folders on ``sys.path`` and its ``run_within``.

Everything a command loads from the project — env.py, the revision files, the models, the
hooks — loads inside :func:`project_environment`, so a revision that does
``from myapp.models import Base`` or uses ``current_app`` loads as it does under ``alembic``
or ``flask db``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from migratectl.errors import ConfigError, MigratectlError
from migratectl.settings import Settings


@contextmanager
def project_environment(settings: Settings) -> Iterator[None]:
    """Put the configuration file's folder and ``sys_path`` on ``sys.path`` and enter
    ``run_within``, once per command: a command that calls another enters nothing again.
    The entries added to ``sys.path`` are taken off again at the end."""
    if settings.in_project:
        yield
        return
    before = set(sys.path)
    settings.activate_sys_path()
    added = [entry for entry in sys.path if entry not in before]
    settings.in_project = True
    try:
        with ExitStack() as stack:
            if settings.run_within:
                stack.enter_context(_entered(settings.run_within))
            yield
    finally:
        settings.in_project = False
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)


@contextmanager
def _entered(spec: str) -> Iterator[None]:
    """Call the ``run_within`` function and enter the context manager it returns."""
    from migratectl.models import describe_exception, describe_type, import_callable

    factory = import_callable(spec, what="run_within")
    try:
        manager: Any = factory()
    except MigratectlError:
        raise
    except Exception as exc:
        raise ConfigError(
            f'run_within "{spec}" raised an error: {describe_exception(exc)}',
            hint="Run with -v to see the traceback.",
        ) from exc
    if not (hasattr(manager, "__enter__") and hasattr(manager, "__exit__")):
        raise ConfigError(
            f'run_within "{spec}" returned {describe_type(manager)}, not a context manager.',
            hint="Return one, e.g. `return app.app_context()`, or decorate a generator "
            "function with @contextlib.contextmanager.",
        )
    try:
        manager.__enter__()
    except MigratectlError:
        raise
    except Exception as exc:
        raise ConfigError(
            f'Entering run_within "{spec}" failed: {describe_exception(exc)}',
            hint="Run with -v to see the traceback.",
        ) from exc
    try:
        yield
    except BaseException:
        # The command's own failure stands, whatever the context manager says about it.
        manager.__exit__(*sys.exc_info())
        raise
    manager.__exit__(None, None, None)
