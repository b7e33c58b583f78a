"""Console output: results on stdout, messages on stderr, JSON documents, URL masking."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rich.console import Console

# scheme://user:password@host -> scheme://user:***@host, without importing SQLAlchemy. The
# password runs to the last "@" before the host's end (a "/", "?", a space or the end), so
# one holding an unencoded "@" is masked whole too.
_URL_PASSWORD = re.compile(
    r"(?P<head>\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)(?P<pw>\S+?)(?=@[^@/?\s]*(?:[/?\s]|$))"
)


def mask_url(url: str) -> str:
    """``postgresql://app:secret@db/app`` -> ``postgresql://app:***@db/app``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***", url)


def mask_secrets(text: str, *secrets: str | None) -> str:
    """Mask every URL password in ``text``, and each known secret wherever it appears."""
    text = mask_url(text)
    for secret in secrets:
        if secret:
            text = _secret_pattern(secret).sub("***", text)
    return text


def _secret_pattern(secret: str) -> re.Pattern[str]:
    """``secret`` where it stands alone: a password "p" must not turn every p into ***."""
    left = r"(?<![A-Za-z0-9])" if secret[0].isalnum() else ""
    right = r"(?![A-Za-z0-9])" if secret[-1].isalnum() else ""
    return re.compile(left + re.escape(secret) + right)


def display_path(path: Path | str) -> str:
    """A path as messages show it: relative to the current directory where it can be."""
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return str(path)


def is_terminal(stream: TextIO) -> bool:
    """Whether rich would treat ``stream`` as a terminal (its TTY_COMPATIBLE / FORCE_COLOR
    rules); when not, text is written as it is, without importing rich."""
    tty_compatible = os.environ.get("TTY_COMPATIBLE", "")
    if tty_compatible in ("0", "1"):
        return tty_compatible == "1"
    force_color = os.environ.get("FORCE_COLOR")
    if force_color is not None:
        return force_color != ""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Output:
    """Where a command writes. One per invocation; no module-level state.

    rich renders only what goes to a terminal, and is imported the first time it does.
    """

    def __init__(self, *, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.secrets: list[str] = []
        self._out: Console | None = None
        self._err: Console | None = None

    @property
    def out(self) -> Console:
        if self._out is None:
            from rich.console import Console

            self._out = Console(highlight=False, soft_wrap=True)
        return self._out

    @property
    def err(self) -> Console:
        if self._err is None:
            from rich.console import Console

            self._err = Console(stderr=True, highlight=False, soft_wrap=True)
        return self._err

    def _print(self, stderr: bool, text: str, style: str | None = None) -> None:
        stream = sys.stderr if stderr else sys.stdout
        if is_terminal(stream):
            console = self.err if stderr else self.out
            console.print(self._clean(text), style=style, markup=False)
        else:
            stream.write(self._clean(text) + "\n")
            stream.flush()

    def add_secret(self, secret: str | None) -> None:
        if secret:
            self.secrets.append(secret)

    def _clean(self, text: str) -> str:
        return mask_secrets(text, *self.secrets)

    def result(self, text: str = "") -> None:
        """A result line on stdout (printed as plain text: no markup interpretation)."""
        self._print(False, text)

    def raw(self, text: str) -> None:
        """Text for stdout exactly as given (SQL scripts): no wrapping, no styling."""
        sys.stdout.write(self._clean(text))
        sys.stdout.flush()

    def info(self, text: str, style: str | None = None) -> None:
        """A progress or log line on stderr, hidden by ``--quiet``."""
        if not self.quiet:
            self._print(True, text, style)

    def warn(self, text: str) -> None:
        """A warning on stderr; shown even with ``--quiet``."""
        self._print(True, f"Warning: {text}", "yellow")

    def error(self, text: str) -> None:
        self._print(True, f"Error: {text}", "bold red")

    def shows_progress(self) -> bool:
        """Progress bars go to a terminal's stderr, and not with ``--quiet``."""
        return not self.quiet and is_terminal(sys.stderr)

    @contextmanager
    def progress(self, total: int, description: str) -> Iterator[Callable[[], None]]:
        """A bar on stderr for ``total`` steps while the block runs; yields what advances it.

        Lines printed meanwhile appear above the bar, which is gone when the block ends.
        """
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
        with Progress(*columns, TimeElapsedColumn(), console=self.err, transient=True) as bar:
            task = bar.add_task(description, total=total)
            yield lambda: bar.advance(task)

    def json(self, document: Any) -> None:
        sys.stdout.write(self._clean(json.dumps(document, indent=2, default=str)) + "\n")
        sys.stdout.flush()
