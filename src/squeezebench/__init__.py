"""squeezebench: a declarative spec and benchmark harness for neural-network compression.

Importing this package is cheap: torch and other heavy dependencies are imported only
when a model is actually built, compressed or measured.

Plugin authors need two names from here: ``hookimpl`` to mark their hook implementations,
and the contracts in :mod:`squeezebench.plugins` (``Method``, ``Backend``, ...).
"""

from squeezebench._version import __version__
from squeezebench.errors import SqueezebenchError, UserError
from squeezebench.plugins.markers import hookimpl, hookspec

__all__ = ["SqueezebenchError", "UserError", "__version__", "hookimpl", "hookspec"]
