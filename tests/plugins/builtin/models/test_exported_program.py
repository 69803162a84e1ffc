"""A torch.export program becomes an ordinary module: layers lifted, train()/eval() working."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from squeezebench.errors import UserError
from squeezebench.plugins.builtin.models._exported_program import usable_module


def _program(module: nn.Module, example: torch.Tensor, *, dynamic: bool = True):
    shapes = ({0: torch.export.Dim("batch")},) if dynamic else None
    return torch.export.export(module, (example,), dynamic_shapes=shapes)


def _conv_bn_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Dropout(0.5),
        nn.Linear(4 * 8 * 8, 10),
    )
    with torch.no_grad():  # running statistics that differ from any batch's
        net[1].running_mean.uniform_(-1, 1)
        net[1].running_var.uniform_(0.5, 2)
    return net


@pytest.mark.parametrize("exported_in_training_mode", [False, True])
def test_layers_are_lifted_and_the_module_runs_like_the_original_in_eval(
    exported_in_training_mode,
) -> None:
    net = _conv_bn_net().train(exported_in_training_mode)
    program = _program(net, torch.randn(2, 1, 8, 8))
    module, lifted = usable_module(program, "m.pt2")
    kinds = {name: type(layer) for name, layer in module.named_modules()}
    assert kinds["0"] is nn.Conv2d and kinds["1"] is nn.BatchNorm2d and kinds["5"] is nn.Linear
    assert nn.Dropout in kinds.values() and lifted == 4
    assert not module.training
    net.eval()
    batch = torch.randn(5, 1, 8, 8)
    torch.testing.assert_close(module(batch), net(batch))
    assert set(module.state_dict()) == set(net.state_dict())


def test_train_and_eval_switch_the_lifted_layers() -> None:
    net = _conv_bn_net().eval()
    module, _ = usable_module(_program(net, torch.randn(2, 1, 8, 8)), "m.pt2")
    batch = torch.randn(16, 1, 8, 8)
    assert module.train() is module and all(layer.training for layer in module.modules())
    torch.manual_seed(1)
    trained = module(batch)
    torch.manual_seed(1)
    reference = net.train()(batch)
    torch.testing.assert_close(trained, reference)  # batch statistics and the same dropout
    module.eval()
    net.eval()
    torch.testing.assert_close(module(batch), net(batch))


def test_deepcopy_keeps_a_working_module() -> None:
    net = _conv_bn_net().eval()
    module, _ = usable_module(_program(net, torch.randn(2, 1, 8, 8)), "m.pt2")
    copied = copy.deepcopy(module).eval()
    batch = torch.randn(3, 1, 8, 8)
    torch.testing.assert_close(copied(batch), net(batch))


class _Shapes(nn.Module):
    """Conv1d (grouped, strided, dilated) and Conv3d, each with and without bias."""

    def __init__(self) -> None:
        super().__init__()
        self.line = nn.Conv1d(4, 6, 3, stride=2, padding=2, dilation=2, groups=2)
        self.cube = nn.Conv3d(1, 2, (1, 2, 3), bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        lines = self.line(x.reshape(x.shape[0], 4, 16))
        cubes = self.cube(x.reshape(x.shape[0], 1, 4, 4, 4))
        return torch.cat([lines.flatten(1), cubes.flatten(1)], dim=1)


def test_conv1d_and_conv3d_keep_their_hyperparameters() -> None:
    net = _Shapes().eval()
    module, lifted = usable_module(_program(net, torch.randn(2, 64)), "m.pt2")
    assert lifted == 2
    line, cube = module.get_submodule("line"), module.get_submodule("cube")
    assert isinstance(line, nn.Conv1d) and isinstance(cube, nn.Conv3d)
    assert (line.stride, line.padding, line.dilation, line.groups) == ((2,), (2,), (2,), 2)
    assert cube.bias is None and cube.kernel_size == (1, 2, 3)
    batch = torch.randn(3, 64)
    torch.testing.assert_close(module(batch), net(batch))


class _Tied(nn.Module):
    """One Linear used twice, and a parameter on the root module: neither can be lifted."""

    def __init__(self) -> None:
        super().__init__()
        self.shared = nn.Linear(8, 8)
        self.scale = nn.Parameter(torch.ones(8))
        self.dropout = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.shared(self.shared(x)) * self.scale)


def test_shared_weights_stay_functional_and_training_forms_are_fixed_for_inference() -> None:
    net = _Tied().train()  # dropout exported in training form
    module, lifted = usable_module(_program(net, torch.randn(2, 8)), "m.pt2")
    assert lifted == 1  # the dropout only
    assert not any(isinstance(layer, nn.Linear) for layer in module.modules())
    batch = torch.randn(4, 8)
    torch.testing.assert_close(module(batch), net.eval()(batch))
    module.train()  # allowed now; the shared layer simply has no mode
    assert module.training


def test_a_fixed_batch_size_is_refused_with_the_fix() -> None:
    program = _program(nn.Linear(4, 2), torch.randn(1, 4), dynamic=False)
    with pytest.raises(UserError, match=r"fixed batch size of 1.*Dim\('batch'\)"):
        usable_module(program, "m.pt2")


def test_lifted_layers_survive_a_round_trip_through_a_file(tmp_path) -> None:
    net = _conv_bn_net().eval()
    torch.export.save(_program(net, torch.randn(2, 1, 8, 8)), tmp_path / "m.pt2")
    module, _ = usable_module(torch.export.load(tmp_path / "m.pt2"), "m.pt2")
    batch = torch.randn(2, 1, 8, 8)
    torch.testing.assert_close(module(batch), net(batch))
