from __future__ import annotations

import numpy as np

from squeezebench.plugins.builtin.datasets.paraphrases import Paraphrases, read_pairs


def test_pairs_are_real_distinct_sentences() -> None:
    pairs = read_pairs()
    assert len(pairs) == 153
    sentences = [sentence for pair in pairs for sentence in pair]
    assert len(set(sentences)) == len(sentences)  # no duplicates, no pair of equal sentences
    assert all(sentence[0].isupper() and sentence[-1] in ".?!" for sentence in sentences)
    assert all(3 <= len(sentence.split()) <= 20 for sentence in sentences)


def test_splits_keep_pairs_together_and_are_fixed() -> None:
    splits = Paraphrases().load()
    assert splits.metric == "embedding"
    assert [len(splits.train), len(splits.calibration), len(splits.test)] == [74, 32, 200]
    seen: set[int] = set()
    for split in (splits.train, splits.calibration, splits.test):
        assert split.inputs.dtype.kind == "U"
        labels, counts = np.unique(split.labels, return_counts=True)
        assert (counts == 2).all()  # both sentences of a pair in the same split
        assert not seen & set(labels.tolist())
        seen |= set(labels.tolist())
        pairs = read_pairs()
        for text, label in zip(split.inputs, split.labels, strict=True):
            assert text in pairs[label]
    assert seen == set(range(153))
    again = Paraphrases().load()
    assert (again.test.inputs == splits.test.inputs).all()
