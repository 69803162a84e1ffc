"""A decoder-style feed-forward stack (LLaMA-2-70B shapes) with random weights.

``BLOCKS`` blocks of ``x + down(silu(gate(x)) * up(x))`` at hidden size 8192 and intermediate
size 28672, no biases: 705M parameters per block, the matrices of LLM decoding, where every
token (batch 1) streams all the weights once. Random weights are enough here: the example
measures latency and size; its accuracy would mean nothing.
"""

from __future__ import annotations

import torch
from torch import nn

HIDDEN = 8192
INTERMEDIATE = 28672
BLOCKS = 1


class FeedForward(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gate = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
        self.up = nn.Linear(HIDDEN, INTERMEDIATE, bias=False)
        self.down = nn.Linear(INTERMEDIATE, HIDDEN, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.down(nn.functional.silu(self.gate(x)) * self.up(x))


def build() -> tuple[nn.Module, torch.Tensor]:
    """The stack (seeded, scaled like a trained model's init) and one example token."""
    generator = torch.Generator().manual_seed(0)
    model = nn.Sequential(*(FeedForward() for _ in range(BLOCKS)))
    with torch.no_grad():
        for layer in model.modules():
            if isinstance(layer, nn.Linear):
                bound = layer.in_features**-0.5
                layer.weight.uniform_(-bound, bound, generator=generator)
    return model.eval(), torch.randn(1, HIDDEN, generator=generator)
