"""migratectl: Alembic migrations for any SQLAlchemy project, with zero set-up.

The public Python API is the command line's: one function per command, each taking the
project's :class:`Settings` (``None`` loads them from the current directory and environment,
as the ``migratectl`` command does) and returning the result object that ``--json`` prints
(``result.as_json()``)::

    import migratectl

    settings = migratectl.load_settings(database_url="sqlite:///app.db", models="app.models")
    result = migratectl.upgrade(settings)  # under the migration lock
    print(result.as_json()["applied"])

Errors are :class:`MigratectlError` subclasses, whose ``exit_code`` is the command's.
The names below are imported when first used, so ``import migratectl`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# name -> the module that defines it
_API = {
    # commands
    "init": "migratectl.commands.init",
    "list_templates": "migratectl.commands.init",
    "revision": "migratectl.commands.revisions",
    "migrate": "migratectl.commands.revisions",
    "edit": "migratectl.commands.revisions",
    "merge": "migratectl.commands.revisions",
    "check": "migratectl.commands.check",
    "upgrade": "migratectl.commands.versioning",
    "downgrade": "migratectl.commands.versioning",
    "stamp": "migratectl.commands.versioning",
    "current": "migratectl.commands.inspection",
    "history": "migratectl.commands.inspection",
    "show": "migratectl.commands.inspection",
    "heads": "migratectl.commands.inspection",
    "branches": "migratectl.commands.inspection",
    "status": "migratectl.commands.inspection",
    "adopt": "migratectl.commands.adopt",
    "verify": "migratectl.commands.verify",
    "lint": "migratectl.commands.lint",
    # settings and output
    "load_settings": "migratectl.settings",
    "Settings": "migratectl.settings",
    "Output": "migratectl.output",
    # results
    "RevisionInfo": "migratectl.repository.revisions",
    "RevisionList": "migratectl.repository.revisions",
    "CurrentState": "migratectl.repository.state",
    "CheckResult": "migratectl.commands.check",
    "StatusResult": "migratectl.commands.inspection",
    "VersioningResult": "migratectl.commands.versioning",
    "AdoptResult": "migratectl.commands.adopt",
    "VerifyResult": "migratectl.commands.verify",
    "VerifyCheck": "migratectl.commands.verify",
    "LintResult": "migratectl.commands.lint",
    # errors
    "MigratectlError": "migratectl.errors",
    "UsageError": "migratectl.errors",
    "ConfigError": "migratectl.errors",
    "DatabaseError": "migratectl.errors",
    "MigrationFailed": "migratectl.errors",
    "LockTimeout": "migratectl.errors",
    "CheckFailed": "migratectl.errors",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    module = _API.get(name)
    if module is None:
        raise AttributeError(f"module 'migratectl' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # once
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # what type checkers and editors see; at run time __getattr__ imports
    from migratectl.commands.adopt import AdoptResult, adopt
    from migratectl.commands.check import CheckResult, check
    from migratectl.commands.init import init, list_templates
    from migratectl.commands.inspection import (
        StatusResult,
        branches,
        current,
        heads,
        history,
        show,
        status,
    )
    from migratectl.commands.lint import LintResult, lint
    from migratectl.commands.revisions import edit, merge, migrate, revision
    from migratectl.commands.verify import VerifyCheck, VerifyResult, verify
    from migratectl.commands.versioning import VersioningResult, downgrade, stamp, upgrade
    from migratectl.errors import (
        CheckFailed,
        ConfigError,
        DatabaseError,
        LockTimeout,
        MigratectlError,
        MigrationFailed,
        UsageError,
    )
    from migratectl.output import Output
    from migratectl.repository.revisions import RevisionInfo, RevisionList
    from migratectl.repository.state import CurrentState
    from migratectl.settings import Settings, load_settings
