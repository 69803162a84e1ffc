"""Loading a Hugging Face-format folder offline as a sentence encoder with a tokenizer.

The leading underscore keeps this module from being loaded as a plugin; ``hf_source``
(the ``hf:`` model source) is its only user. transformers is imported here, lazily.

The module this gives takes ONE int64 tensor of token ids ``(batch, sequence)``: the
attention mask is derived inside from the pad token id, token types are zero, and the output
is the pooled sentence embedding (mean over non-pad tokens by default, L2-normalised when the
folder's ``modules.json`` lists a ``Normalize`` module), as sentence-transformers computes it.
The forward pass has no data-dependent Python branches, so ``torch.onnx.export`` traces it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from squeezebench.errors import UserError

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")
POOLING_MODES = ("mean", "cls", "max", "mean_sqrt_len")
EXAMPLE_SENTENCES = (
    "A quick example sentence to trace the model with.",
    "Another, slightly longer example sentence for a batch of two.",
)


@dataclass(frozen=True)
class SentenceConfig:
    """How sentence-transformers turns the encoder's token states into one embedding."""

    pooling: str = "mean"
    normalize: bool = False
    max_seq_length: int | None = None


@contextlib.contextmanager
def offline() -> Iterator[None]:
    """Within the block, the Hugging Face libraries refuse to reach any hub."""
    previous = {name: os.environ.get(name) for name in OFFLINE_VARIABLES}
    os.environ.update(dict.fromkeys(OFFLINE_VARIABLES, "1"))
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """No progress bar and no load report on the terminal while loading."""
    from transformers.utils import logging as hf_logging

    bar, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bar:
            hf_logging.enable_progress_bar()


def read_sentence_config(folder: Path) -> SentenceConfig:
    """Pooling, normalisation and maximum length from sentence-transformers' files, if any."""
    pooling, normalize = "mean", False
    modules_file = folder / "modules.json"
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text(encoding="utf-8")):
            kind = str(module.get("type", ""))
            if kind.endswith("Normalize"):
                normalize = True
            elif kind.endswith("Pooling"):
                pooling = _pooling_mode(folder / module.get("path", "") / "config.json")
    max_seq_length = None
    bert_config = folder / "sentence_bert_config.json"
    if bert_config.is_file():
        max_seq_length = json.loads(bert_config.read_text(encoding="utf-8")).get("max_seq_length")
    return SentenceConfig(pooling, normalize, max_seq_length)


def _pooling_mode(config_file: Path) -> str:
    if not config_file.is_file():
        return "mean"
    config = json.loads(config_file.read_text(encoding="utf-8"))
    chosen = [mode for mode in POOLING_MODES if config.get(f"pooling_mode_{mode}_tokens")]
    chosen += ["cls"] if config.get("pooling_mode_cls_token") else []
    if len(chosen) != 1:
        raise UserError(
            f"{config_file}: exactly one of the pooling modes {', '.join(POOLING_MODES)} is "
            f"supported, the file enables {chosen or 'none'}"
        )
    return chosen[0]


def build_sentence_encoder(encoder: Any, config: SentenceConfig, pad_token_id: int) -> Any:
    """Wrap a transformers encoder as ``token ids -> pooled sentence embedding``."""
    import torch

    class SentenceEncoder(torch.nn.Module):
        """A transformer encoder and the pooling of sentence-transformers, ids in."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.pad_token_id = int(pad_token_id)
            self.pooling = config.pooling
            self.normalize = config.normalize

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            mask = (input_ids != self.pad_token_id).to(torch.int64)
            states = self.encoder(
                input_ids=input_ids,
                attention_mask=mask,
                token_type_ids=torch.zeros_like(input_ids),
            )[0]
            weights = mask.unsqueeze(-1).to(states.dtype)
            if self.pooling == "cls":
                pooled = states[:, 0]
            elif self.pooling == "max":
                pooled = states.masked_fill(weights == 0, -1e9).amax(dim=1)
            else:
                summed = (states * weights).sum(dim=1)
                counts = weights.sum(dim=1).clamp(min=1e-9)
                pooled = summed / (counts.sqrt() if self.pooling == "mean_sqrt_len" else counts)
            if self.normalize:
                pooled = torch.nn.functional.normalize(pooled, p=2.0, dim=1)
            return pooled

        def extra_repr(self) -> str:
            return f"pooling={self.pooling}, normalize={self.normalize}"

    return SentenceEncoder().eval()


class Tokenize:
    """Texts to fixed-length int64 token ids ``(N, max_length)``, padded with the pad id.

    Every call gives the same sequence length, so the dataset's splits, the example input and
    an exported graph agree on one shape. Truncated texts are counted in ``truncated``.
    """

    def __init__(self, tokenizer: Any, max_length: int) -> None:
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.truncated = 0

    def __call__(self, texts: np.ndarray) -> np.ndarray:
        texts = np.asarray(texts)
        if texts.dtype.kind not in "OUS":
            raise UserError(
                f"this model reads text; the dataset gives {texts.dtype} arrays of shape "
                f"{texts.shape}"
            )
        strings = [str(text) for text in texts.reshape(-1)]
        if not strings:
            return np.zeros((0, self.max_length), dtype=np.int64)
        full = self.tokenizer(strings, truncation=False, padding=False)["input_ids"]
        self.truncated += sum(len(ids) > self.max_length for ids in full)
        encoded = self.tokenizer(
            strings,
            padding="max_length",
            truncation=True,
            max_length=self.max_length,
            return_tensors="np",
        )
        return np.ascontiguousarray(encoded["input_ids"], dtype=np.int64)


@dataclass
class LoadedEncoder:
    """What :func:`load_encoder` gives: the module, the tokenizer step, an example batch."""

    module: Any
    tokenize: Tokenize
    example_input: Any
    parameters: int


def load_encoder(folder: Path, max_length: int | None, *, trusted: bool) -> LoadedEncoder:
    """Load the folder's encoder and tokenizer with transformers, strictly offline.

    Weights come from ``model.safetensors``; a pickled ``pytorch_model.bin`` is only read
    when ``trusted`` (the spec's ``trust_model_files``). Custom model code is never run.
    """
    safetensors = any(folder.glob("*.safetensors")) or any(folder.glob("*.safetensors.index.json"))
    if not safetensors and not trusted:
        raise UserError(
            f"{folder} has no .safetensors weights; its pickled weights can run arbitrary "
            "code when loaded: set `trust_model_files: true` in the spec only if you trust them"
        )
    config_data = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    if config_data.get("auto_map"):
        raise UserError(
            f"{folder}/config.json needs the model's own Python code (auto_map); squeezebench "
            "never runs downloaded model code"
        )
    with offline(), _quiet_transformers():
        from transformers import AutoModel, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder), local_files_only=True)
            encoder = AutoModel.from_pretrained(
                str(folder),
                local_files_only=True,
                use_safetensors=safetensors,
                trust_remote_code=False,
            )
        except (OSError, ValueError) as error:
            raise UserError(f"transformers cannot load {folder} offline: {error}") from None
    encoder.float().eval()  # transformers 5 keeps the checkpoint's dtype by default
    if getattr(encoder, "pooler", None) is not None:
        encoder.pooler = None  # BERT's [CLS] head: computed, but sentence embeddings ignore it
    sentence = read_sentence_config(folder)
    import torch

    if tokenizer.pad_token_id is None:
        raise UserError(f"the tokenizer in {folder} has no pad token")
    limit = sentence.max_seq_length or getattr(encoder.config, "max_position_embeddings", 512)
    length = min(max_length, limit) if max_length else min(128, limit)
    module = build_sentence_encoder(encoder, sentence, tokenizer.pad_token_id)
    tokenize = Tokenize(tokenizer, length)
    example = torch.from_numpy(tokenize(np.array(EXAMPLE_SENTENCES)))
    tokenize.truncated = 0
    parameters = sum(p.numel() for p in module.parameters())
    return LoadedEncoder(module, tokenize, example, parameters)
