"""What a migratectl ``env.py`` calls.

``run_migrations(context)`` is the whole of a generated env.py (``run_multidb_migrations``
for a multi-database repository). It reads the settings that the commands left in
``config.attributes`` (or loads them itself when Alembic is driven by another tool, such as
pytest-alembic), and runs offline or online:

- :mod:`~migratectl.runtime.context`: the keys of ``Config.attributes``, the settings and
  ``configure()`` arguments;
- :mod:`~migratectl.runtime.environment`: one database: the lock, the run, the
  per-revision transactions;
- :mod:`~migratectl.runtime.multidb`: several databases;
- :mod:`~migratectl.runtime.applied` and :mod:`~migratectl.runtime.progress`: what ran;
- :mod:`~migratectl.runtime.failures`: what a failure or an interrupt left, in words.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["run_migrations", "run_multidb_migrations"]

if TYPE_CHECKING:
    from migratectl.runtime.environment import run_migrations
    from migratectl.runtime.multidb import run_multidb_migrations


def __getattr__(name: str) -> Any:
    """The two entry points, imported when env.py asks for them: the commands import
    :mod:`migratectl.runtime.context` without the run's machinery."""
    if name == "run_migrations":
        from migratectl.runtime.environment import run_migrations

        return run_migrations
    if name == "run_multidb_migrations":
        from migratectl.runtime.multidb import run_multidb_migrations

        return run_multidb_migrations
    raise AttributeError(f"module 'migratectl.runtime' has no attribute {name!r}")
