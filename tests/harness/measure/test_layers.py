"""Per-layer names, shapes, parameters and FLOPs (what `squeezebench inspect` shows)."""

from __future__ import annotations

import torch

from squeezebench.harness.measure.layers import describe_layers
from squeezebench.plugins import candidate_layers


class Nested(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU())
        self.head = torch.nn.Linear(4 * 6 * 6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def test_every_named_module_is_listed_with_shapes_parameters_and_flops() -> None:
    model = Nested().eval()
    described = describe_layers(model, torch.zeros(2, 1, 8, 8))
    rows = {row.name: row for row in described.layers}
    assert list(rows) == [name for name, _ in model.named_modules() if name]
    conv, head, features = rows["features.0"], rows["head"], rows["features"]
    assert conv.type == "Conv2d" and conv.weight_shape == (4, 1, 3, 3)
    assert conv.output_shape == (4, 6, 6)  # per sample: the batch of 2 is left out
    assert conv.parameters == 4 * 9 + 4 and features.parameters == conv.parameters
    assert conv.flops == 2 * 9 * 4 * 36 and head.flops == 2 * 144 * 10  # per sample
    assert features.flops == conv.flops  # a container counts its children
    assert described.flops == conv.flops + head.flops
    assert described.parameters == sum(p.numel() for p in model.parameters())
    selectable = {row.name for row in described.layers if row.selectable}
    assert selectable == {name for name, _ in candidate_layers(model)} == {"features.0", "head"}


def test_a_bare_layer_is_its_own_row() -> None:
    (row,) = describe_layers(torch.nn.Linear(3, 2), torch.zeros(1, 3)).layers
    assert row.name == "" and row.type == "Linear" and row.flops == 12 and row.selectable


def test_without_an_example_or_with_one_the_model_rejects_the_layers_are_still_listed() -> None:
    model = Nested().eval()
    for example in (None, torch.zeros(2, 3)):  # no example; a shape the model cannot take
        described = describe_layers(model, example)
        assert [row.name for row in described.layers] == [
            "features",
            "features.0",
            "features.1",
            "head",
        ]
        assert described.flops is None and all(row.output_shape is None for row in described.layers)
        assert not model._forward_hooks and not model.head._forward_hooks  # hooks removed


def test_a_numpy_example_runs_like_a_tensor() -> None:
    import numpy as np

    described = describe_layers(Nested().eval(), np.zeros((1, 1, 8, 8), dtype=np.float32))
    assert described.flops == 2 * 9 * 4 * 36 + 2 * 144 * 10
