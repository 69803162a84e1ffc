"""Accuracy and fidelity scores, on small arrays whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from squeezebench.harness.measure.quality import (
    embedding_cosine,
    nearest_neighbours,
    paraphrase_retrieval,
    retrieval_agreement,
    score,
)

# four points on the unit circle: 0 and 1 close together, 2 and 3 close together
PAIRS = np.array([[1.0, 0.0], [0.95, 0.31], [-1.0, 0.05], [-0.9, -0.4]])


def test_cosine_is_one_for_scaled_embeddings_and_zero_for_orthogonal_ones() -> None:
    assert embedding_cosine(PAIRS * 3.0, PAIRS) == pytest.approx(1.0)
    rotated = PAIRS @ np.array([[0.0, 1.0], [-1.0, 0.0]])  # every row turned by 90 degrees
    assert embedding_cosine(rotated, PAIRS) == pytest.approx(0.0, abs=1e-12)
    assert embedding_cosine(-PAIRS, PAIRS) == pytest.approx(-1.0)
    half = PAIRS.copy()
    half[:2] = rotated[:2]
    assert embedding_cosine(half, PAIRS) == pytest.approx(0.5)
    assert embedding_cosine(np.zeros_like(PAIRS), PAIRS) == 0.0  # zero vectors: no direction


def test_nearest_neighbour_excludes_the_row_itself() -> None:
    assert nearest_neighbours(PAIRS).tolist() == [1, 0, 3, 2]


def test_retrieval_agreement_counts_rows_whose_neighbour_changed() -> None:
    assert retrieval_agreement(PAIRS * 2, PAIRS) == 1.0
    three_pairs = np.array([[1, 0, 0], [0.9, 0.1, 0], [0, 1, 0], [0.1, 0.9, 0], [0, 0, 1.0]])
    three_pairs = np.vstack([three_pairs, [0, 0.1, 0.9]])
    assert nearest_neighbours(three_pairs).tolist() == [1, 0, 3, 2, 5, 4]
    moved = three_pairs.copy()
    moved[5] = [0.9, 0.0, 0.2]  # now closest to row 0; every other row keeps its neighbour
    assert nearest_neighbours(moved).tolist() == [1, 0, 3, 2, 5, 0]
    assert retrieval_agreement(moved, three_pairs) == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="shape"):
        retrieval_agreement(PAIRS[:3], PAIRS)


def test_paraphrase_retrieval_is_the_share_whose_neighbour_has_the_same_label() -> None:
    labels = np.array([7, 7, 9, 9])
    assert paraphrase_retrieval(PAIRS, labels) == 1.0
    assert paraphrase_retrieval(PAIRS, np.array([7, 9, 7, 9])) == 0.0
    # a row without a partner is left out of the share
    assert paraphrase_retrieval(PAIRS, np.array([7, 7, 9, 8])) == 1.0
    assert paraphrase_retrieval(PAIRS, np.array([1, 2, 3, 4])) is None


def test_score_uses_the_datasets_metric() -> None:
    logits = np.array([[0.1, 0.9], [0.8, 0.2]])
    assert score("top1", logits, np.array([1, 1])) == 0.5
    assert score("embedding", PAIRS, np.array([0, 0, 1, 1])) == 1.0
    assert score("embedding", PAIRS, None) is None
