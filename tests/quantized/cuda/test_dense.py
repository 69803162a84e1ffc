"""The memory budget of dense weight copies (no GPU)."""

from __future__ import annotations

import pytest

from squeezebench.errors import UserError
from squeezebench.quantized.cuda.dense import BUDGET_VARIABLE, DenseBudget, budget_bytes

GIB = 1 << 30


@pytest.mark.parametrize(
    ("value", "expected"),
    [("10%", 14 * GIB), ("0", 0), ("8GiB", 8 * GIB), ("512 MiB", 512 << 20), ("1000", 1000)],
)
def test_budget_values(value, expected) -> None:
    assert budget_bytes(140 * GIB, value) == expected


def test_a_bad_budget_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv(BUDGET_VARIABLE, "8GB")
    with pytest.raises(UserError, match=r"SQUEEZEBENCH_CUDA_DENSE_BUDGET='8GB': expected bytes"):
        budget_bytes(GIB)


def test_reservations_stay_within_the_budget_and_half_the_free_memory(monkeypatch) -> None:
    monkeypatch.setenv(BUDGET_VARIABLE, "10%")
    budget = DenseBudget()
    total = 100 * GIB
    assert budget.reserve(0, 6 * GIB, total, free_memory=80 * GIB)
    assert not budget.reserve(0, 5 * GIB, total, free_memory=80 * GIB)  # 11 GiB > 10%
    assert budget.reserve(1, 5 * GIB, total, free_memory=80 * GIB)  # another device
    budget.release(0, 6 * GIB)
    assert not budget.reserve(0, 5 * GIB, total, free_memory=9 * GIB)  # more than half the free
    assert budget.reserve(0, 5 * GIB, total, free_memory=10 * GIB) and budget.held(0) == 5 * GIB
    monkeypatch.setenv(BUDGET_VARIABLE, "0")
    assert not budget.reserve(2, 1, total, free_memory=total)
