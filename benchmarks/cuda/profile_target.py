"""A few launches of one path on one shape, for a profiler (``ncu``) to look at (needs a GPU).

    python benchmarks/cuda/profile_target.py --path fused --bits 4 --batch 1 [--calls 5]

Builds a random int4 g128 (or int8 per-channel) layer of 8192 x 28672 in the tiled layout,
forces ``--path`` through ``SQUEEZEBENCH_CUDA_DISPATCH`` and runs it ``--calls`` times after
a warm-up (compilation and first launch stay outside what a profiler skips past).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from weight_only_kernels import FORMATS, random_layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default="fused", choices=["fused", "wide", "dequantize"])
    parser.add_argument("--bits", type=int, default=4, choices=[4, 8])
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--shape", default="8192x28672", help="in x out features")
    parser.add_argument("--calls", type=int, default=5)
    args = parser.parse_args()
    os.environ["SQUEEZEBENCH_CUDA_DISPATCH"] = args.path
    in_f, out_f = (int(n) for n in args.shape.split("x"))
    bits, scheme, group = FORMATS["int4-g128" if args.bits == 4 else "int8-channel"]
    layer = random_layer(in_f, out_f, bits, scheme, group)
    x = torch.randn(args.batch, in_f, device="cuda", dtype=torch.float16)
    with torch.inference_mode():
        for _ in range(2 + args.calls):
            layer(x)
    torch.cuda.synchronize()
    print(f"{args.path} {args.bits}-bit {args.shape} batch {args.batch}: {args.calls} calls")


if __name__ == "__main__":
    main()
