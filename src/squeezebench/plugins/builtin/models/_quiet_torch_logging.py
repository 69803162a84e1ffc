"""Keeping torch's loggers quiet while squeezebench handles the failure itself.

``torch.export.load`` logs a full traceback (a warning with ``exc_info``) before it falls back
to another reader and raises; squeezebench turns the exception into one clear line, so that
traceback is noise, printed even with ``-q``. torch gives many of its loggers their own
handlers and stops their propagation, so no single logger level silences them all: within
:func:`quiet_torch_logging`, every handler of a ``torch`` logger, of the root logger and the
last-resort handler drops records that come from ``torch`` or ``torch.*``, and the filters are
removed afterwards. The leading underscore keeps this module from being loaded as a plugin.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class _DropTorchRecords(logging.Filter):
    """Drops torch's records, keeping each one once in ``dropped``."""

    def __init__(self) -> None:
        super().__init__()
        self.dropped: list[logging.LogRecord] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "torch" or record.name.startswith("torch."):
            if not any(seen is record for seen in self.dropped):
                self.dropped.append(record)
            return False
        return True


@contextlib.contextmanager
def quiet_torch_logging() -> Iterator[list[logging.LogRecord]]:
    """Within the block, nothing torch logs reaches a handler; restored afterwards.

    Yields the list of the records dropped so far (a failure's real reason is often there).
    """
    loggers = [logging.getLogger()] + [
        logger
        for name, logger in list(logging.root.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and (name == "torch" or name.startswith("torch."))
    ]
    handlers = {handler for logger in loggers for handler in logger.handlers}
    if logging.lastResort is not None:
        handlers.add(logging.lastResort)
    drop = _DropTorchRecords()
    for handler in handlers:
        handler.addFilter(drop)
    try:
        yield drop.dropped
    finally:
        for handler in handlers:
            handler.removeFilter(drop)
