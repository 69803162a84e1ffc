from __future__ import annotations

from squeezebench.results import columns
from squeezebench.results.schema import column_names


def test_every_column_has_a_constant_named_after_it_and_nothing_else_does() -> None:
    constants = {
        name: value
        for name, value in vars(columns).items()
        if name.isupper() and isinstance(value, str)
    }
    assert constants == {name.upper(): name for name in column_names()}
