"""Console output: results on stdout, messages on stderr, JSON documents, URL masking."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from rich.console import Console

# scheme://user:password@host -> scheme://user:***@host, without importing SQLAlchemy.
_URL_PASSWORD = re.compile(r"(?P<head>\b[a-zA-Z][\w+.-]*://[^:/@\s]*:)(?P<pw>[^@\s]+)(?=@)")


def mask_url(url: str) -> str:
    """``postgresql://app:secret@db/app`` -> ``postgresql://app:***@db/app``."""
    return _URL_PASSWORD.sub(lambda m: m.group("head") + "***", url)


def mask_secrets(text: str, *secrets: str | None) -> str:
    """Mask every URL password in ``text``, and each known secret wherever it appears."""
    text = mask_url(text)
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


class Output:
    """Where a command writes. One per invocation; no module-level state."""

    def __init__(self, *, quiet: bool = False, verbose: bool = False) -> None:
        self.quiet = quiet
        self.verbose = verbose
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.secrets: list[str] = []

    def add_secret(self, secret: str | None) -> None:
        if secret:
            self.secrets.append(secret)

    def _clean(self, text: str) -> str:
        return mask_secrets(text, *self.secrets)

    def result(self, text: str = "") -> None:
        """A result line on stdout (printed as plain text: no markup interpretation)."""
        self.out.print(self._clean(text), markup=False)

    def raw(self, text: str) -> None:
        """Text for stdout exactly as given (SQL scripts): no wrapping, no styling."""
        sys.stdout.write(self._clean(text))
        sys.stdout.flush()

    def info(self, text: str, style: str | None = None) -> None:
        """A progress or log line on stderr, hidden by ``--quiet``."""
        if not self.quiet:
            self.err.print(self._clean(text), style=style, markup=False)

    def warn(self, text: str) -> None:
        """A warning on stderr; shown even with ``--quiet``."""
        self.err.print(self._clean(f"Warning: {text}"), style="yellow", markup=False)

    def error(self, text: str) -> None:
        self.err.print(self._clean(f"Error: {text}"), style="bold red", markup=False)

    def json(self, document: Any) -> None:
        sys.stdout.write(self._clean(json.dumps(document, indent=2, default=str)) + "\n")
        sys.stdout.flush()
