"""Revisions as the commands return them (:class:`RevisionInfo`, :class:`RevisionList`),
read from Alembic's ScriptDirectory, and the questions asked of the graph (what is pending,
is a stamped revision known).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from migratectl.repository.config import build_config, script_directory
from migratectl.repository.translation import command_error
from migratectl.settings import Settings

if TYPE_CHECKING:
    from alembic.script import Script, ScriptDirectory


@dataclass
class RevisionInfo:
    revision: str
    down_revisions: list[str]
    message: str
    branch_labels: list[str]
    is_head: bool
    path: str
    is_branch_point: bool = False
    is_merge_point: bool = False
    dependencies: list[str] = field(default_factory=list)
    create_date: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "revision": self.revision,
            "down_revisions": self.down_revisions,
            "message": self.message,
            "branch_labels": self.branch_labels,
            "is_head": self.is_head,
            "path": self.path,
        }


@dataclass
class RevisionList:
    """Revisions, as ``history``, ``heads``, ``branches`` and ``show`` return them; iterates
    (and indexes) like the list it holds. ``current``: the database's revisions, when
    ``history`` was asked to indicate them."""

    revisions: list[RevisionInfo]
    current: list[str] | None = None

    def __iter__(self) -> Iterator[RevisionInfo]:
        return iter(self.revisions)

    def __len__(self) -> int:
        return len(self.revisions)

    def __getitem__(self, index: int) -> RevisionInfo:
        return self.revisions[index]

    def as_json(self) -> dict[str, Any]:
        """``{"revisions": [...]}`` (+ ``"current"`` for ``history -i``)."""
        document: dict[str, Any] = {"revisions": [r.as_json() for r in self.revisions]}
        if self.current is not None:
            document["current"] = self.current
        return document


def revision_info(script: Script) -> RevisionInfo:
    from alembic.util import to_tuple

    return RevisionInfo(
        revision=script.revision,
        down_revisions=list(to_tuple(script.down_revision, default=())),
        message=(script.doc or "").strip(),
        branch_labels=sorted(script.branch_labels),
        is_head=script.is_head,
        path=str(script.path),
        is_branch_point=script.is_branch_point,
        is_merge_point=script.is_merge_point,
        dependencies=list(to_tuple(script.dependencies, default=())),
        create_date=_create_date(script),
    )


def _create_date(script: Script) -> str | None:
    match = re.search(r"^Create Date: (.+)$", script.longdoc or "", re.MULTILINE)
    return match.group(1).strip() if match else None


def check_known(script: ScriptDirectory, heads: Sequence[str], settings: Settings) -> None:
    from alembic.util import CommandError

    for rev in heads:
        try:
            script.get_revision(rev)
        except CommandError:
            message = f"Can't locate revision identified by '{rev}'"
            raise command_error(message, settings, ()) from None


def pending_revisions(script: ScriptDirectory, current: Sequence[str]) -> list[Script]:
    """The revisions ``upgrade heads`` would apply, oldest first."""
    lower = tuple(current) if current else "base"
    # implicit_base, as Alembic's upgrade: branches not below ``current`` are pending too.
    revs = list(script.iterate_revisions("heads", lower, implicit_base=True))
    revs.reverse()
    return [r for r in revs if r is not None]


def next_revisions(settings: Settings, rev: str) -> list[str]:
    """The revisions directly after ``rev`` (for rendering branch points)."""
    config = build_config(settings)
    script = script_directory(config)
    found = script.get_revision(rev)
    return list(found.nextrev) if found is not None else []


@contextmanager
def revision_files_read_once() -> Iterator[None]:
    """One ScriptDirectory for every step of the run.

    Each step is an ``upgrade`` or ``downgrade`` command, and Alembic's commands each build
    a ScriptDirectory of their own, which executes every revision file again: for a history of
    n revisions, verify's 4n steps would execute 4n² files. Nothing writes a revision file
    while verify runs, so the first ScriptDirectory built for a repository serves the rest.
    """
    from alembic.script import ScriptDirectory

    original = ScriptDirectory.__dict__["from_config"]
    made: dict[tuple[str | None, ...], ScriptDirectory] = {}

    def from_config(cls: type[ScriptDirectory], config: Any) -> ScriptDirectory:
        key = tuple(
            config.get_main_option(option)
            for option in ("script_location", "version_locations", "file_template")
        )
        if key not in made:
            made[key] = original.__func__(cls, config)
        return made[key]

    ScriptDirectory.from_config = classmethod(from_config)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        ScriptDirectory.from_config = original  # type: ignore[method-assign]
