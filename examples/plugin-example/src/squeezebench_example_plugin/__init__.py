"""An example third-party squeezebench plugin: one method, ``example.round_weights``.

squeezebench finds this module through the ``squeezebench`` entry-point group declared in
``pyproject.toml`` and calls its ``squeezebench_register`` hook once, when the registry is
built. Nothing here imports torch, so ``squeezebench plugins`` and ``validate`` stay fast.
"""

from squeezebench import hookimpl
from squeezebench_example_plugin.round_weights import RoundWeights, RoundWeightsParams

__all__ = ["RoundWeights", "RoundWeightsParams", "squeezebench_register"]
__version__ = "0.1.0"


@hookimpl
def squeezebench_register(registry):
    """Register ``example.round_weights``."""
    registry.add_method(RoundWeights)
