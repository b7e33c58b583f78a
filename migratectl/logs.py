"""migratectl's hold on Alembic's loggers for the length of one command.

The "Upgrade a -> b" lines (and, with -v, all of Alembic's log) are part of migratectl's
output, so they must not depend on the application's logging configuration: an application
whose import runs ``logging.config.dictConfig`` (setting the ``alembic`` logger to WARNING,
``propagate = False``, its own handlers and format, or disabling existing loggers) would
otherwise silence them or reformat them. The hold is taken when the command starts and taken
again just before the revisions run or the models are compared, after env.py, the models and
``run_within`` have imported the application; the application's settings are put back at the
end.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from migratectl.output import Output

ALEMBIC = "alembic"


class AlembicLogRelay(logging.Handler):
    """Shows Alembic's "Running upgrade a -> b, message" lines without its other chatter."""

    def __init__(self, output: Output) -> None:
        super().__init__(logging.INFO)
        self.output = output

    # Alembic's step names, as shown: "Running stamp_revision  -> ab12" -> "Stamp <base> -> ab12"
    _STEPS = {"upgrade": "Upgrade", "downgrade": "Downgrade", "stamp_revision": "Stamp"}

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Running "):
            return
        step, _, rest = message[len("Running ") :].partition(" ")
        moves, comma, doc = rest.partition(", ")
        source, arrow, target = moves.partition(" -> ")
        if arrow:
            rest = f"{source.strip() or '<base>'} -> {target.strip() or '<base>'}{comma}{doc}"
        self.output.info(f"{self._STEPS.get(step, step)} {rest.strip()}")


@dataclass
class _LoggerState:
    level: int
    propagate: bool
    handlers: list[logging.Handler]
    disabled: bool


class AlembicLogging:
    """Routes the ``alembic`` logger tree to migratectl's output while a command runs."""

    def __init__(self, output: Output) -> None:
        self.handler: logging.Handler
        if output.verbose:
            self.handler = logging.StreamHandler()
            self.handler.setFormatter(logging.Formatter("%(levelname)-5.5s [%(name)s] %(message)s"))
        else:
            self.handler = AlembicLogRelay(output)
        self._saved: dict[str, _LoggerState] = {}
        self._disable: int | None = None

    def take(self) -> None:
        """Apply migratectl's routing (again): the ``alembic`` logger at INFO with only our
        handler, its children passing everything up to it, none of them disabled."""
        manager = logging.Logger.manager
        names = [ALEMBIC, *sorted(n for n in manager.loggerDict if n.startswith(ALEMBIC + "."))]
        for name in names:
            logger = logging.getLogger(name)
            self._saved.setdefault(
                name,
                _LoggerState(
                    logger.level, logger.propagate, list(logger.handlers), logger.disabled
                ),
            )
            logger.disabled = False
            for handler in list(logger.handlers):
                if handler is not self.handler:
                    logger.removeHandler(handler)
            if name == ALEMBIC and self.handler not in logger.handlers:
                logger.addHandler(self.handler)
            level = logging.INFO if name == ALEMBIC else logging.NOTSET
            if logger.level != level:  # setLevel clears every logger's cache: only if need be
                logger.setLevel(level)
            logger.propagate = name != ALEMBIC
        if manager.disable >= logging.INFO:  # logging.disable(...) silences every logger
            if self._disable is None:
                self._disable = manager.disable
            logging.disable(logging.NOTSET)

    def release(self) -> None:
        """Put back what the loggers were before migratectl took them."""
        for name, state in self._saved.items():
            logger = logging.getLogger(name)
            for handler in list(logger.handlers):
                logger.removeHandler(handler)
            for handler in state.handlers:
                logger.addHandler(handler)
            logger.setLevel(state.level)
            logger.propagate = state.propagate
            logger.disabled = state.disabled
        self._saved.clear()
        if self._disable is not None:
            logging.disable(self._disable)
            self._disable = None
