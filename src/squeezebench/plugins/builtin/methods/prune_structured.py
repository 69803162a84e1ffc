"""``prune.structured``: remove whole channels, filters and neurons (a physically smaller model).

For every selected ``Linear`` / ``Conv`` layer, the output channels (Conv filters, Linear
neurons) with the lowest L1 or L2 importance are removed, together with everything that
depends on them: the matching input channels of the layers that consume them (through
ReLU, pooling, flatten, BatchNorm, residual additions, concatenations...). The dependency
graph comes from torch-pruning (``DependencyGraph`` traced on an example input,
``BasePruner`` with ``MagnitudeImportance``), so the result is an ordinary dense
``nn.Module`` with smaller weight tensors: fewer parameters, fewer FLOPs and lower latency on
any backend, with no sparse kernel needed.

``ratio`` is the fraction of *output channels* removed from each selected layer (each layer
keeps ``floor((1 - ratio) * channels)``, never fewer than one). It is not the fraction of
parameters removed: a layer between two pruned layers loses both input and output channels,
so its weights shrink by about ``1 - (1 - ratio)**2``, while the first layer (whose inputs
are the model's) and the layer after the last pruned one shrink by about ``ratio``. The
realised parameter ratio is recorded in the method log next to the channel counts.

The output channels of the model's output layers (a layer whose outputs reach the model's
output without passing through another Linear or Conv, e.g. the final classifier) are never
removed, so the model keeps its output shape; their *inputs* shrink with the layer before.
``include`` / ``exclude`` choose the layers whose output channels may be removed; an
excluded layer keeps its output channels but loses the input channels its predecessor lost.
A channel coupled to an excluded or output layer (by a residual addition, say) is kept.

Importance of a channel: the L1 (``l1``) or squared L2 (``l2``) norm of its weights, averaged
over the layers of its dependency group (the filter itself, the next layer's matching input
slice, BatchNorm's affine parameters), torch-pruning's group magnitude importance. There is no
fine-tuning: follow with a training step to recover accuracy.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from squeezebench.errors import MethodError
from squeezebench.plugins.builtin.methods._layer_selection import (
    LayerSelection,
    candidate_layers,
    describe_selection,
    display_name,
    linear_and_conv,
    select_layers,
)
from squeezebench.plugins.contracts import Method, MethodContext
from squeezebench.plugins.markers import hookimpl


class StructuredPruningParams(LayerSelection):
    """Parameters of ``prune.structured``."""

    ratio: float = Field(
        ge=0,
        lt=1,
        description=(
            "Fraction of the output channels (Conv filters, Linear neurons) removed from each "
            "selected layer; not the fraction of parameters (see the method log for that)."
        ),
    )
    importance: Literal["l1", "l2"] = Field(
        "l1",
        description="Rank channels by the L1 or the L2 norm of their weights.",
    )


class StructuredPruning(Method):
    """Structured channel pruning (L1/L2): a physically smaller dense model, via torch-pruning."""

    name = "prune.structured"
    Params = StructuredPruningParams

    def apply(self, artifact: Any, params: StructuredPruningParams, ctx: MethodContext) -> Any:
        import torch
        import torch_pruning as tp

        selected = select_layers(artifact, params, self.name, "prune")
        example = tracing_input(artifact, ctx, self.name)
        all_layers = candidate_layers(artifact)
        names = {id(layer): name for name, layer in all_layers}
        channels_before = {id(layer): out_channels(layer) for _, layer in all_layers}
        params_before = parameter_count(artifact)
        was_training = artifact.training
        artifact.eval()  # BatchNorm cannot trace a batch of one in training mode
        with torch.enable_grad():  # tracing follows grad_fn
            try:
                output_shape = _output_shape(artifact, example)
                # a first trace finds the output layers, which the pruner must ignore
                graph = tp.DependencyGraph().build_dependency(artifact, example_inputs=example)
                outputs = output_layers(graph)
                chosen = {id(layer) for _, layer in selected}
                ignored = [
                    module
                    for module in artifact.modules()
                    if isinstance(module, linear_and_conv()) and id(module) not in chosen
                ]
                ignored += [layer for layer in outputs if id(layer) in chosen]
                pruner = tp.pruner.BasePruner(
                    artifact,
                    example,
                    importance=tp.importance.MagnitudeImportance(
                        p=1 if params.importance == "l1" else 2,
                        group_reduction="mean",
                        normalizer=None,
                    ),
                    pruning_ratio=params.ratio,
                    ignored_layers=ignored,
                    root_module_types=list(linear_and_conv()),
                )
                if params.ratio > 0:
                    pruner.step()
            except Exception as error:
                raise MethodError(
                    f"{self.name}: torch-pruning could not trace or prune this model: "
                    f"{type(error).__name__}: {error}"
                ) from error
            if _output_shape(artifact, example) != output_shape:
                raise MethodError(
                    f"{self.name}: pruning changed the model's output shape from "
                    f"{tuple(output_shape)}; exclude the layers that produce the output"
                )
        artifact.train(was_training)
        params_after = parameter_count(artifact)
        ctx.note(
            structured_note(
                params,
                [(names[id(layer)], layer) for _, layer in selected],
                channels_before,
                [names[id(layer)] for layer in outputs if id(layer) in chosen],
                params_before,
                params_after,
            )
        )
        return artifact


def tracing_input(module: Any, ctx: MethodContext, method: str) -> Any:
    """An input batch to trace ``module`` with: the example input, else one data sample."""
    import torch

    example = ctx.example_input
    if example is None and ctx.data is not None:
        split = ctx.data.calibration if len(ctx.data.calibration) else ctx.data.train
        example = torch.from_numpy(split.inputs[:1])
    if example is None:
        raise MethodError(
            f"{method} needs an input to trace the model's dependencies: the model source "
            "gives no example input and the spec names no dataset"
        )
    device = next((p.device for p in module.parameters()), torch.device("cpu"))
    if isinstance(example, tuple | list):
        return type(example)(e.to(device) if isinstance(e, torch.Tensor) else e for e in example)
    return example.to(device) if isinstance(example, torch.Tensor) else example


def _output_shape(module: Any, example: Any) -> Any:
    import torch

    with torch.no_grad():
        output = module(*example) if isinstance(example, tuple | list) else module(example)
    if isinstance(output, torch.Tensor):
        return tuple(output.shape)
    if isinstance(output, tuple | list):
        return tuple(tuple(o.shape) if isinstance(o, torch.Tensor) else None for o in output)
    return None


def output_layers(graph: Any) -> list[Any]:
    """Linear/Conv layers whose outputs reach the model's output without passing through
    another Linear or Conv layer (pruning their output channels would change the output)."""
    kinds = linear_and_conv()
    found = []
    for module, node in graph.module2node.items():
        if not isinstance(module, kinds):
            continue
        seen, stack = set(), list(node.outputs)
        reaches_output = not node.outputs
        while stack and not reaches_output:
            current = stack.pop()
            if id(current) in seen:
                continue
            seen.add(id(current))
            if isinstance(current.module, kinds):
                continue  # consumed by the next layer: its outputs are what count
            if not current.outputs:
                reaches_output = True
            stack.extend(current.outputs)
        if reaches_output:
            found.append(module)
    return found


def out_channels(layer: Any) -> int:
    """Output channels of a Conv layer, output features of a Linear layer."""
    return int(layer.weight.shape[0])


def in_channels(layer: Any) -> int:
    """Input channels (per group) of a Conv layer, input features of a Linear layer."""
    return int(layer.weight.shape[1])


def parameter_count(module: Any) -> int:
    """Number of parameters (weights and biases) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def structured_note(
    params: StructuredPruningParams,
    selected: list[tuple[str, Any]],
    channels_before: dict[int, int],
    protected: list[str],
    params_before: int,
    params_after: int,
) -> str:
    """Channels per selected layer and parameters, before and after, in one line."""
    changes = [
        f"{display_name(name)}: {channels_before[id(layer)]} -> {out_channels(layer)}"
        for name, layer in selected
    ]
    kept = params_after / max(params_before, 1)
    how = f"{params.importance}, ratio {params.ratio:g} of output channels per layer"
    if describe_selection(params):
        how += f", {describe_selection(params)}"
    note = (
        f"structured pruning ({how}): output channels {', '.join(changes)}; "
        f"parameters {params_before:,} -> {params_after:,} "
        f"(realised parameter ratio {1 - kept:.3f} removed, {kept:.3f} kept)"
    )
    if protected:
        note += f"; outputs kept intact (model output): {', '.join(map(display_name, protected))}"
    return note


@hookimpl
def squeezebench_register(registry: Any) -> None:
    """Register ``prune.structured``."""
    registry.add_method(StructuredPruning)
