"""Writes the stored format-version-1 artifacts that ``test_format_versions.py`` loads.

It was run once, at commit ae649a7 (before the tiled layout existed), with that commit's
code: the files are what squeezebench produced then, and must keep loading and computing
the same outputs. Do not regenerate them with newer code.

    python tests/quantized/data/make_rows_layout_v1.py
"""

from __future__ import annotations

from pathlib import Path

import torch

from squeezebench.quantized.layers import QuantizedLinear
from squeezebench.quantized.packing import quantize_affine

HERE = Path(__file__).parent
# (out, in, bits, symmetric, group size, scale dtype, bias): shapes the tiled layout of
# format version 2 would take (out a multiple of 16, whole K blocks) and one it would not
LAYERS = {
    "int4_g64": (32, 256, 4, True, 64, torch.float16, True),
    "int8_channel_asym": (16, 128, 8, False, None, torch.float32, False),
    "int4_g32_odd": (10, 72, 4, True, 32, torch.float16, True),
}


def main() -> None:
    torch.manual_seed(20261126)
    states, modules = {}, {}
    for name, (out_f, in_f, bits, symmetric, group, scale_dtype, bias) in LAYERS.items():
        dense = torch.nn.Linear(in_f, out_f, bias=bias)
        packed = quantize_affine(dense.weight, bits, symmetric, group, scale_dtype)
        layer = QuantizedLinear.from_float(dense, packed)
        x = torch.randn(3, in_f)
        fmt = layer.format
        states[name] = {
            "format": {
                "out_features": fmt.out_features,
                "in_features": fmt.in_features,
                "bits": fmt.bits,
                "scheme": fmt.scheme,
                "group_size": fmt.group_size,
                "padded_in_features": fmt.padded_in_features,
                "scale_dtype": str(fmt.scale_dtype).removeprefix("torch."),
            },
            "bias": bias,
            "state_dict": layer.state_dict(),
            "input": x,
            "output": layer(x).detach(),
        }
        modules[name] = layer
    torch.save(states, HERE / "rows_layout_v1_states.pt")
    torch.save(modules, HERE / "rows_layout_v1_modules.pt")  # pickled, as the artifact cache does


if __name__ == "__main__":
    main()
