"""``init`` (a new repository, or ``--convert`` of an Alembic / Flask-Migrate one) and
``list-templates``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from migratectl.errors import (
    UsageError,
)
from migratectl.output import Output
from migratectl.repository.config import resolve_settings
from migratectl.settings import Settings

if TYPE_CHECKING:
    pass


def list_templates() -> list[tuple[str, str]]:
    """The bundled repository templates with their one-line synopsis."""
    from migratectl.commands.init.scaffold import bundled_templates

    return bundled_templates()


def init(
    settings: Settings | None = None,
    *,
    multidb: bool = False,
    template: str | None = None,
    package: bool = False,
    convert: bool = False,
    alembic_ini: str | None = None,
    output: Output | None = None,
) -> list[Path]:
    """Create the migration repository (or convert an Alembic / Flask-Migrate one, carrying
    its alembic.ini / ``[tool.alembic]`` and env.py settings over)."""
    from migratectl.commands.init import scaffold

    settings = resolve_settings(settings)
    if convert:
        return scaffold.convert_repository(
            settings, multidb=multidb, template=template, alembic_ini=alembic_ini, output=output
        )
    if alembic_ini is not None:
        raise UsageError("--alembic-ini goes with --convert.", hint="Add --convert.")
    return scaffold.create_repository(settings, multidb=multidb, template=template, package=package)
