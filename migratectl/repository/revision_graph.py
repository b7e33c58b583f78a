"""The revision graph read from the revision files' source, without running them.

Alembic learns a repository's revisions by importing every revision file, and importing one
imports Alembic, SQLAlchemy and whatever else the file imports — most of what `current` costs.
`current` needs only each revision's id and the ids below it, which an Alembic revision file
states as literals. :func:`read_heads` reads them with :mod:`ast` when every file is plain:
its top level holds only a docstring, imports of modules that exist, assignments of literal
values and function definitions whose annotations and defaults name things the file defines
or Python's builtins — so running it could not fail and could not change those values. Any
file that is not plain, or any graph that is not a clean history (a missing or duplicated
revision, a cycle, a label clash), makes it return None, and the caller asks Alembic, whose
answer and whose error messages then stand.

`lint` needs more of the graph and no plain file: :func:`read_revision_sources` gives every
revision file's identifiers as the file states them, whatever else the file imports (its
application, which a linter's environment may not have), and :func:`source_revision_map`
makes them into Alembic's own RevisionMap, so that ranges, branch labels and Alembic's error
messages are Alembic's.
"""

from __future__ import annotations

import ast
import builtins
import importlib.util
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migratectl.settings import Settings

if TYPE_CHECKING:
    from alembic.script.revision import RevisionMap

# Alembic's own file filter without `sourceless` (alembic/script/base.py).
_SOURCE_FILE = re.compile(r"(?!\.\#|__init__)(.*\.py)$")
_ILLEGAL_ID_CHARACTERS = frozenset("@-+:")
# Alembic options under which the files or their places differ from the plain layout.
_UNSUPPORTED_OPTIONS = ("script_location", "sourceless", "recursive_version_locations")
# Alembic's path_separator values (alembic.config.Config._get_file_separator_char).
_PATH_SEPARATORS = {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}
_BUILTINS = frozenset(dir(builtins))
# Parsing costs about a second and 120 MB per megabyte of source, while Alembic imports a file
# from its cached bytecode in a millisecond: past this much source, Alembic is the cheaper way.
SOURCE_LIMIT = 200_000
# What Alembic reads from a revision module (alembic.script.base.Script).
_IDENTIFIERS = ("revision", "down_revision", "branch_labels", "depends_on")
# Names through which a module can bind a global without naming it in an assignment.
_INDIRECT_BINDERS = frozenset({"globals", "locals", "vars", "exec", "eval", "setattr"})


class _NotPlain(Exception):
    """The file or graph needs Alembic to be read."""


def path_separator(settings: Settings) -> str | None:
    """The separator ``[alembic] path_separator`` names, or None when it names none."""
    return _PATH_SEPARATORS.get(str(settings.alembic.get("path_separator")))


def version_locations(settings: Settings) -> list[Path]:
    """The folders holding revision files: ``[alembic] version_locations`` (a string or a list,
    relative to the configuration file), else ``<directory>/versions``."""
    value = settings.alembic.get("version_locations")
    if value is None:
        return [settings.directory / "versions"]
    separator = path_separator(settings)
    if isinstance(value, str):
        # Without path_separator Alembic splits on spaces and commas.
        parts = value.split(separator) if separator else re.split(r", *| +", value)
    else:
        parts = [str(part) for part in value]
    return [settings.base_dir / part.strip() for part in parts if part.strip()]


def read_heads(settings: Settings) -> tuple[list[str], set[str]] | None:
    """The repository's heads (in Alembic's order) and every revision id, or None when Alembic
    must read the files (see the module's docstring, and SOURCE_LIMIT)."""
    if settings.configure_hooks or any(key in settings.alembic for key in _UNSUPPORTED_OPTIONS):
        return None  # a hook may move the scripts anywhere
    try:
        paths = list(_revision_files(settings))
        if sum(path.stat().st_size for path in paths) > SOURCE_LIMIT:
            return None
        return _heads([_read_file(path) for path in paths])
    except (_NotPlain, OSError, SyntaxError, ValueError):
        return None


@dataclass(frozen=True)
class RevisionSource:
    """A revision file's identifiers as its source states them (the values Alembic reads from
    the module: a string, strings in a tuple or list, or None)."""

    path: Path
    revision: str
    down_revision: str | tuple[str, ...] | None
    branch_labels: str | tuple[str, ...] | None
    depends_on: str | tuple[str, ...] | None


def read_revision_sources(settings: Settings) -> list[RevisionSource] | None:
    """Every revision file's identifiers, read with :mod:`ast` (no file is run, so nothing it
    imports need be installed), in the order Alembic loads the files.

    None when Alembic must load the files to know them: options or hooks that move or compile
    them, a file that cannot be read, or a file whose identifiers are not plain literals
    assigned once at its top level (a computed revision id, an assignment under ``if``, a
    star import after it). A file that is not valid Python raises its SyntaxError.
    """
    if settings.configure_hooks or any(key in settings.alembic for key in _UNSUPPORTED_OPTIONS):
        return None
    try:
        return [_read_identifiers(path) for path in _revision_files(settings, strict=False)]
    except (_NotPlain, OSError, ValueError):
        return None


def source_revision_map(sources: list[RevisionSource]) -> RevisionMap:
    """Alembic's RevisionMap over the files' identifiers, built as ScriptDirectory builds its
    own (alembic.script.base.Script), so walks and their errors are Alembic's."""
    from alembic.script.revision import Revision, RevisionMap
    from alembic.util import to_tuple

    def revisions() -> Iterator[Revision]:
        for source in sources:
            yield Revision(
                source.revision,
                source.down_revision,
                branch_labels=to_tuple(source.branch_labels, default=()),
                dependencies=to_tuple(source.depends_on, default=()),
            )

    return RevisionMap(revisions)


def _revision_files(settings: Settings, *, strict: bool = True) -> Iterator[Path]:
    """The revision files of every version location, folder by folder, sorted by name.

    ``strict`` (for :func:`read_heads`): compiled files or a file reached twice make the
    folder one for Alembic. Otherwise the files are those Alembic loads when it is not
    ``sourceless``: compiled files ignored, each file once, named by its resolved path.
    """
    seen: set[Path] = set()
    for folder in version_locations(settings):
        if not folder.is_dir():
            continue
        entries = [entry.name for entry in os.scandir(folder) if not entry.is_dir()]
        for name in sorted(entries):
            if not strict:
                real = (folder / name).resolve()
                if real not in seen and _SOURCE_FILE.match(real.name):
                    seen.add(real)
                    yield real
                continue
            if not (folder / name).is_file():
                continue
            if name.endswith((".pyc", ".pyo")):
                raise _NotPlain(name)  # compiled files beside the sources: Alembic decides
            if _SOURCE_FILE.match(name):
                real = (folder / name).resolve()
                if real in seen:
                    raise _NotPlain(name)
                seen.add(real)
                yield real


def _read_identifiers(path: Path) -> RevisionSource:
    """The four identifiers of one file, each a literal bound once, directly at its top level."""
    tree = ast.parse(path.read_bytes(), filename=str(path))
    assigned: dict[str, tuple[ast.stmt, ast.Name, ast.expr]] = {}
    for statement in tree.body:
        if isinstance(statement, ast.Assign) and len(statement.targets) == 1:
            target, value = statement.targets[0], statement.value
        elif isinstance(statement, ast.AnnAssign) and statement.value is not None:
            target, value = statement.target, statement.value
        else:
            continue
        if isinstance(target, ast.Name) and target.id in _IDENTIFIERS:
            assigned.setdefault(target.id, (statement, target, value))
    last_star = 0
    for name, node in _module_bindings(tree):
        if name == "*":
            last_star = max(last_star, getattr(node, "lineno", 0))
        elif name == "__getattr__":
            raise _NotPlain("a module __getattr__")
        elif name in _IDENTIFIERS and (name not in assigned or assigned[name][1] is not node):
            raise _NotPlain(f"{name} bound another way")  # also a second assignment
    if any(statement.lineno < last_star for statement, _, _ in assigned.values()):
        raise _NotPlain("a star import after an identifier")
    for node in ast.walk(tree):
        if isinstance(node, (ast.Global, ast.Nonlocal)) and set(node.names) & set(_IDENTIFIERS):
            raise _NotPlain("a global statement")
        if isinstance(node, ast.Name) and node.id in _INDIRECT_BINDERS:
            raise _NotPlain(node.id)
        if isinstance(node, ast.Attribute) and node.attr in ("modules", "__dict__"):
            raise _NotPlain(node.attr)
    values = {name: ast.literal_eval(value) for name, (_, _, value) in assigned.items()}
    revision = values.get("revision")
    if not isinstance(revision, str) or not revision or "down_revision" not in values:
        raise _NotPlain(path)  # Alembic names the file's problem (or reads the file name)
    return RevisionSource(
        path=path,
        revision=revision,
        down_revision=_identifier_value(values["down_revision"]),
        branch_labels=_identifier_value(values.get("branch_labels")),
        depends_on=_identifier_value(values.get("depends_on")),
    )


def _identifier_value(value: Any) -> str | tuple[str, ...] | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return tuple(value)  # as Alembic takes a list
    raise _NotPlain(value)


def _module_bindings(tree: ast.Module) -> Iterator[tuple[str, ast.AST]]:
    """Every name the module's own scope binds, with the node binding it (``*`` for a star
    import); function and class bodies are other scopes (``global`` is checked apart)."""
    stack: list[ast.AST] = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield node.name, node
            # Decorators, defaults, annotations and bases run in the module's scope.
            inner = {id(child) for child in node.body}
            stack.extend(c for c in ast.iter_child_nodes(node) if id(c) not in inner)
            continue
        if isinstance(node, ast.Lambda):
            stack.append(node.args)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                yield (alias.asname or alias.name.split(".")[0]), node
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            yield node.id, node
        elif isinstance(node, (ast.ExceptHandler, ast.MatchAs, ast.MatchStar)) and node.name:
            yield node.name, node
        elif isinstance(node, ast.MatchMapping) and node.rest:
            yield node.rest, node
        stack.extend(ast.iter_child_nodes(node))


def _read_file(path: Path) -> dict[str, Any]:
    tree = ast.parse(path.read_bytes(), filename=str(path))
    reader = _PlainModule()
    for statement in tree.body:
        reader.statement(statement)
    values = reader.values
    revision = values.get("revision")
    if not isinstance(revision, str) or not revision:
        raise _NotPlain(path)
    return {
        "revision": revision,
        "down": _ids(values.get("down_revision")),
        "labels": _ids(values.get("branch_labels")),
        "depends_on": _ids(values.get("depends_on")),
    }


def _ids(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (tuple, list)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise _NotPlain(value)


class _PlainModule:
    """Checks a module's top level, statement by statement, and keeps its literal values."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.bound: set[str] = set()
        self.lazy_annotations = False

    def statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            return  # the docstring (or another bare literal)
        if isinstance(node, ast.Import):
            for alias in node.names:
                _require_module(alias.name)
                self.bound.add(alias.asname or alias.name.split(".")[0])
            return
        if isinstance(node, ast.ImportFrom):
            if node.level or node.module is None or any(a.name == "*" for a in node.names):
                raise _NotPlain("relative or star import")
            if node.module == "__future__":
                self.lazy_annotations |= any(a.name == "annotations" for a in node.names)
            else:
                _require_module(node.module)
            self.bound.update(alias.asname or alias.name for alias in node.names)
            return
        if isinstance(node, ast.Assign):
            if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
                raise _NotPlain("assignment")
            self._assign(node.targets[0].id, node.value)
            return
        if isinstance(node, ast.AnnAssign):
            if not isinstance(node.target, ast.Name) or node.value is None:
                raise _NotPlain("annotated assignment")
            if not self.lazy_annotations:
                self._evaluable(node.annotation)
            self._assign(node.target.id, node.value)
            return
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.decorator_list:
                raise _NotPlain("decorator")
            arguments = node.args
            for default in [*arguments.defaults, *arguments.kw_defaults]:
                if default is not None:
                    self._evaluable(default)
            if not self.lazy_annotations:
                every = [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]
                every += [a for a in (arguments.vararg, arguments.kwarg) if a is not None]
                for annotation in [a.annotation for a in every] + [node.returns]:
                    if annotation is not None:
                        self._evaluable(annotation)
            self.bound.add(node.name)
            return
        raise _NotPlain(type(node).__name__)

    def _assign(self, name: str, value: ast.expr) -> None:
        if name in self.values:
            raise _NotPlain(f"{name} assigned twice")
        self.values[name] = ast.literal_eval(value)  # ValueError when it is not a literal
        self.bound.add(name)

    def _evaluable(self, node: ast.expr) -> None:
        """An annotation or default Python evaluates when the file runs: names, attributes,
        subscripts, literals and ``X | Y`` only, every name defined above or a builtin."""
        for child in ast.walk(node):
            if isinstance(child, ast.Name):
                if child.id not in self.bound and child.id not in _BUILTINS:
                    raise _NotPlain(f"unknown name {child.id}")
            elif not isinstance(
                child,
                (
                    ast.Attribute,
                    ast.Subscript,
                    ast.Constant,
                    ast.Tuple,
                    ast.List,
                    ast.Load,
                    ast.BinOp,
                    ast.BitOr,
                    ast.UnaryOp,
                    ast.USub,
                ),
            ):
                raise _NotPlain(type(child).__name__)


def _require_module(name: str) -> None:
    """The top-level package of an import must be installed (found without importing it)."""
    top = name.split(".")[0]
    try:
        found = importlib.util.find_spec(top) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        raise _NotPlain(f"no module {top}")


def _heads(revisions: list[dict[str, Any]]) -> tuple[list[str], set[str]]:
    ids = [r["revision"] for r in revisions]
    known = set(ids)
    if len(known) != len(ids):
        raise _NotPlain("a revision present more than once")
    labels: set[str] = set()
    for r in revisions:
        if set(r["revision"]) & _ILLEGAL_ID_CHARACTERS or r["revision"] in r["down"]:
            raise _NotPlain(r["revision"])
        if any(down not in known for down in r["down"]):
            raise _NotPlain("a missing down revision")
        for label in r["labels"]:
            if label in labels or label in known:
                raise _NotPlain("a branch label clash")
            labels.add(label)
    for r in revisions:
        if any(dep not in known and dep not in labels for dep in r["depends_on"]):
            raise _NotPlain("an unknown dependency")
    below = {down for r in revisions for down in r["down"]}
    _require_acyclic(revisions)
    return [rev for rev in ids if rev not in below], known


def _require_acyclic(revisions: list[dict[str, Any]]) -> None:
    """Every revision reachable by removing bases one at a time (Kahn's algorithm)."""
    waiting = {r["revision"]: len(set(r["down"])) for r in revisions}
    above: dict[str, list[str]] = {}
    for r in revisions:
        for down in set(r["down"]):
            above.setdefault(down, []).append(r["revision"])
    ready = [rev for rev, count in waiting.items() if count == 0]
    done = 0
    while ready:
        rev = ready.pop()
        done += 1
        for upper in above.get(rev, ()):
            waiting[upper] -= 1
            if waiting[upper] == 0:
                ready.append(upper)
    if done != len(waiting):
        raise _NotPlain("a cycle")
