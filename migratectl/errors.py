"""One exception family. Each error carries its exit code and a hint; the CLI renders it once."""

from __future__ import annotations

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2
EXIT_DATABASE = 3
EXIT_MIGRATION_FAILED = 4
EXIT_LOCK_TIMEOUT = 5
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143  # 128 + SIGTERM, as a shell reports a process that SIGTERM ended


class MigratectlError(Exception):
    """An error a user can act on: what went wrong (``message``) and what to do (``hint``)."""

    exit_code = EXIT_USAGE

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class ConfigError(MigratectlError):
    """Bad or missing configuration, models that cannot be imported, a missing driver."""


class UsageError(MigratectlError):
    """A command used wrongly: unknown revision, bad flag value, directory not initialised."""


class DatabaseError(MigratectlError):
    """The database could not be reached, does not exist, or refused the login."""

    exit_code = EXIT_DATABASE


class MigrationFailed(MigratectlError):
    """A migration script raised while it ran."""

    exit_code = EXIT_MIGRATION_FAILED


class Interrupted(MigratectlError):
    """Ctrl-C while a revision ran; the message says what was rolled back and what stayed."""

    exit_code = EXIT_INTERRUPTED


class Terminated(Interrupted):
    """SIGTERM while a revision ran (``docker stop``, Kubernetes, systemd)."""

    exit_code = EXIT_TERMINATED


class SigtermReceived(KeyboardInterrupt):
    """Raised by the CLI's SIGTERM handler. A KeyboardInterrupt, so that SIGTERM takes every
    path Ctrl-C takes: psycopg cancels the running statement on the server, transactions
    roll back, locks are released, and the interrupt is reported."""


class LockTimeout(MigratectlError):
    """The migration lock was not acquired in time."""

    exit_code = EXIT_LOCK_TIMEOUT


class CheckFailed(MigratectlError):
    """A check found something (``check``, ``current --check-heads``, ``verify``, ``lint``)."""

    exit_code = EXIT_CHECK_FAILED
