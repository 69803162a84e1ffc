from __future__ import annotations

import copy
import functools
import io
import json
import pickle

import pytest
import torch
from pydantic import ValidationError

from squeezebench.plugins import MethodContext
from squeezebench.plugins.builtin.methods.encode_zstd_lzma import (
    LzmaEncoding,
    LzmaParams,
    ZstdEncoding,
    ZstdParams,
    lzma_decode,
    lzma_encode,
    zstd_decode,
    zstd_encode,
)
from squeezebench.plugins.builtin.methods.prune_magnitude import (
    MagnitudePruning,
    MagnitudePruningParams,
)
from squeezebench.plugins.builtin.models.digits_models import trained_model


def _pruned_mlp(sparsity: float = 0.9) -> torch.nn.Module:
    model = copy.deepcopy(trained_model("digits-mlp"))
    return MagnitudePruning().apply(
        model, MagnitudePruningParams(sparsity=sparsity), MethodContext(seed=0)
    )


def _saved(model: torch.nn.Module) -> bytes:
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getvalue()


def _encode(ctx: MethodContext, payload: bytes) -> bytes:
    return functools.reduce(lambda data, encoder: encoder.encode(data), ctx.encoders, payload)


def test_the_artifact_is_returned_unchanged_and_an_encoder_is_added() -> None:
    model = _pruned_mlp()
    before = _saved(model)
    ctx = MethodContext(seed=0)
    assert ZstdEncoding().apply(model, ZstdParams(level=3), ctx) is model
    assert _saved(model) == before
    assert [encoder.name for encoder in ctx.encoders] == ["zstd-3"]
    assert "encoded with zstd level 3 after the last step" in ctx.notes[0]


@pytest.mark.parametrize(
    ("method", "params", "decode"),
    [
        (ZstdEncoding, ZstdParams(), zstd_decode),
        (ZstdEncoding, ZstdParams(level=1), zstd_decode),
        (LzmaEncoding, LzmaParams(), lzma_decode),
        (LzmaEncoding, LzmaParams(preset=9, extreme=True), lzma_decode),
    ],
)
def test_pruned_artifact_encodes_smaller_and_decodes_exactly(method, params, decode) -> None:
    payload = _saved(_pruned_mlp())
    ctx = MethodContext(seed=0)
    method().apply(torch.nn.Identity(), params, ctx)
    encoded = _encode(ctx, payload)
    assert len(encoded) < 0.2 * len(payload)  # 90% zeros; measured ~0.13 at zstd level 19
    assert decode(encoded) == payload


def test_dense_float_weights_barely_compress() -> None:
    payload = _saved(trained_model("digits-mlp"))
    assert 0.8 * len(payload) < len(zstd_encode(payload, 19)) < len(payload)


def test_encoders_apply_in_pipeline_order_and_pickle() -> None:
    payload = _saved(_pruned_mlp())
    ctx = MethodContext(seed=0)
    ZstdEncoding().apply(None, ZstdParams(level=5), ctx)
    LzmaEncoding().apply(None, LzmaParams(preset=1), ctx)
    assert [encoder.name for encoder in ctx.encoders] == ["zstd-5", "xz-1"]
    assert "(encoders in order: zstd-5 -> xz-1)" in ctx.notes[-1]
    encoded = _encode(ctx, payload)
    assert encoded == lzma_encode(zstd_encode(payload, 5), 1)
    assert zstd_decode(lzma_decode(encoded)) == payload
    restored = pickle.loads(pickle.dumps(ctx.encoders))  # cached artifacts keep them
    assert _encode(MethodContext(seed=0, encoders=restored), payload) == encoded


@pytest.mark.parametrize(
    ("model", "params", "message"),
    [
        (ZstdParams, {"level": 0}, "greater than or equal to 1"),
        (ZstdParams, {"level": 23}, "less than or equal to 22"),
        (ZstdParams, {"lvl": 3}, "Extra inputs are not permitted"),
        (LzmaParams, {"preset": -1}, "greater than or equal to 0"),
        (LzmaParams, {"preset": 10}, "less than or equal to 9"),
        (LzmaParams, {"level": 6}, "Extra inputs are not permitted"),
    ],
)
def test_params_validation(model, params: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        model(**params)


def test_end_to_end_encoded_bytes_of_the_final_artifact(run_variants) -> None:
    variants = """
        pruned: [{prune.magnitude: {sparsity: 0.9}}]
        pruned-zstd: [{prune.magnitude: {sparsity: 0.9}}, {encode.zstd: {level: 19}}]
        zstd-first: [{encode.zstd: {level: 19}}, {prune.magnitude: {sparsity: 0.9}}]
        pruned-xz: [{prune.magnitude: {sparsity: 0.9}}, encode.lzma]
        """
    rows = run_variants(variants)
    assert set(rows["status"]) == {"ok"}
    assert rows["encoded_bytes"][["baseline", "pruned"]].isna().all()
    pruned, zstd, xz = rows.loc["pruned"], rows.loc["pruned-zstd"], rows.loc["pruned-xz"]
    assert zstd["artifact_bytes"] == pruned["artifact_bytes"]  # encoding changes no weights
    assert zstd["accuracy"] == pruned["accuracy"]
    assert zstd["encoded_bytes"] < 0.2 * zstd["artifact_bytes"]
    assert xz["encoded_bytes"] < 0.2 * xz["artifact_bytes"]
    # exactly the bytes of the shipped artifact, encoded: rebuild them here
    expected = len(zstd_encode(_saved(_pruned_mlp().eval()), 19))
    assert zstd["encoded_bytes"] == expected
    # encoders act on the final bytes, wherever the step stands in the pipeline
    assert rows.loc["zstd-first"]["encoded_bytes"] == zstd["encoded_bytes"]
    notes = json.loads(zstd["method_log"])
    assert notes[-1].startswith("encode.zstd: the final artifact bytes will be encoded")
