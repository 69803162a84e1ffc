"""``paraphrases``: 306 short English sentences in 153 paraphrase pairs, for sentence encoders.

The sentences were written for squeezebench (``data/paraphrases.tsv``, public domain: one
pair per line) on everyday topics: weather, food, sport, travel, computers, health, money,
science, animals, music, school, work, home, nature, history, news. Neighbouring pairs often
share a topic but not a meaning ("the train leaves at eight" / "the bus leaves at nine"), so
finding a sentence's paraphrase among the others is not a matter of topic alone.

Inputs are the raw strings (a numpy ``str`` array): a model source with a tokenizer turns
them into token ids (:attr:`~squeezebench.plugins.contracts.LoadedModel.preprocess`).
Labels are pair numbers, the same for a sentence and its paraphrase. The split is by pair
(fixed seed): 100 pairs to test, 16 to calibration, 37 to train, so each test sentence has its
paraphrase in the test split. The metric is ``embedding``: accuracy is paraphrase retrieval
(the nearest other test sentence by cosine is its paraphrase); fidelity to the baseline is
measured by ``embedding_cosine`` and ``retrieval_agreement``.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from squeezebench.plugins.contracts import Dataset, DatasetSplits, Split
from squeezebench.plugins.markers import hookimpl

SPLIT_SEED = 0
TEST_PAIRS = 100
CALIBRATION_PAIRS = 16


def read_pairs() -> list[tuple[str, str]]:
    """The sentence pairs of the shipped file, in file order."""
    text = (
        resources.files("squeezebench.plugins.builtin.datasets")
        .joinpath("data", "paraphrases.tsv")
        .read_text(encoding="utf-8")
    )
    pairs = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        first, separator, second = line.partition("\t")
        if not separator or "\t" in second or not first.strip() or not second.strip():
            raise ValueError(f"paraphrases.tsv:{number}: expected two sentences and one tab")
        pairs.append((first.strip(), second.strip()))
    return pairs


@functools.cache
def paraphrase_splits() -> DatasetSplits:
    """The paraphrase splits (cached for the process)."""
    import numpy as np

    pairs = read_pairs()
    order = np.random.default_rng(SPLIT_SEED).permutation(len(pairs))
    parts = np.split(order, [TEST_PAIRS, TEST_PAIRS + CALIBRATION_PAIRS])
    test, calibration, train = (_split(pairs, sorted(part)) for part in parts)
    return DatasetSplits(train=train, calibration=calibration, test=test, metric="embedding")


def _split(pairs: list[tuple[str, str]], chosen: list[int]) -> Split:
    import numpy as np

    texts = [sentence for index in chosen for sentence in pairs[index]]
    labels = np.repeat(np.asarray(chosen, dtype=np.int64), 2)
    return Split(np.asarray(texts, dtype=np.str_), labels)


class Paraphrases(Dataset):
    """306 English sentences in 153 paraphrase pairs (text; metric: embedding retrieval)."""

    name = "paraphrases"

    def load(self) -> DatasetSplits:
        return paraphrase_splits()


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register the ``paraphrases`` dataset."""
    registry.add_dataset(Paraphrases)
