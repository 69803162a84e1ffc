"""squeezebench's pytest plugin (entry point ``pytest11``): fixtures for plugin authors.

pytest loads it in every environment where squeezebench is installed, so it only defines
fixtures; nothing is imported, built or loaded until a test asks for one.
"""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture
def squeezebench_reference_model() -> tuple[Any, Any]:
    """A fresh ``(module, example batch)``: the kit's small CNN for 8x8 digits (untrained)."""
    from squeezebench.testing.reference import reference_model

    return reference_model()


@pytest.fixture
def squeezebench_data() -> Any:
    """The digits splits (``DatasetSplits``): calibration and training data for methods."""
    from squeezebench.testing.reference import reference_data

    return reference_data()


@pytest.fixture
def squeezebench_method_context(squeezebench_reference_model: tuple[Any, Any]) -> Any:
    """A ``MethodContext`` as the harness builds it: seed 0, the digits data, the example."""
    from squeezebench.plugins import MethodContext
    from squeezebench.testing.reference import reference_data

    module, example = squeezebench_reference_model
    return MethodContext(seed=0, data=reference_data(), example_input=example, teacher=module)


@pytest.fixture
def squeezebench_registry() -> Any:
    """The registry ``squeezebench run`` would build here: built-ins and installed plugins."""
    from squeezebench.plugins.manager import build_plugin_manager, build_registry

    return build_registry(build_plugin_manager())
