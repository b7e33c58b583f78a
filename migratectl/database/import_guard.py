"""Threads that import nothing.

Two threads importing parts of one module graph at the same time is a race: when their module
locks cross, Python breaks the cycle by handing one of them a half-initialised module
(``partially initialized module 'sqlalchemy.orm.exc' has no attribute …``). migratectl's
read-ahead thread runs while the main thread imports the user's models and Alembic, so it must
import nothing:

1. Before it starts, the main thread imports every module whose code the thread can run
   (:func:`preload`): those its code imports, and those that, while being imported, put
   functions where the thread's code finds them — SQLAlchemy's inspection registry, filled
   only by ``sqlalchemy.orm`` and consulted by Core for every bound parameter (the crash
   above: the thread ran ``sqlalchemy.orm.base`` while the main thread was still importing
   ``sqlalchemy.orm.exc``). A module that is fully imported is never initialised again: an
   ``import`` of it in the thread is a look-up in ``sys.modules`` that takes no lock, so it
   cannot wait for, or be handed half of, anything the main thread is importing.
2. Should the thread still reach a module that is not imported yet (another driver, another
   SQLAlchemy version), :class:`ImportGuard` refuses it with :class:`ImportRefused` before
   the module runs, and the caller redoes the thread's work on the main thread. The outcome
   is then slower, never different.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any


class ImportRefused(ImportError):
    """A guarded thread tried to import a module that was not imported yet."""


# Names refused so far in this process (the tests read it).
refused: list[str] = []


class ImportGuard:
    """A ``sys.meta_path`` finder that refuses every new import made by the guarded threads."""

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if threading.get_ident() in self.threads:
            refused.append(name)
            raise ImportRefused(f"{name} is not imported off the main thread", name=name)
        return None  # not ours to find: the next finder looks


_GUARD = ImportGuard()


@contextmanager
def guarded(thread_ident: int) -> Iterator[None]:
    """While inside, the thread ``thread_ident`` may import nothing new."""
    if _GUARD not in sys.meta_path:
        sys.meta_path.insert(0, _GUARD)
    _GUARD.threads.add(thread_ident)
    try:
        yield
    finally:
        _GUARD.threads.discard(thread_ident)


def preload(modules: Iterable[str]) -> None:
    """Import ``modules`` now, on this (the main) thread; one that is missing is skipped (the
    code that needs it reports that itself)."""
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
