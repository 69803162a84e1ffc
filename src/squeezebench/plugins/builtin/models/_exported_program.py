"""A ``torch.export`` program as an ordinary module that methods and the harness can use.

``ExportedProgram.module()`` gives a graph module that refuses ``train()`` and ``eval()`` and
holds its layers as bare parameters used by functional calls (``aten.linear``,
``aten.conv2d``...), so it has no ``nn.Linear`` or ``nn.Conv2d`` for a compression method to
find. :func:`usable_module` turns it into one that behaves like the model that was exported:

- every ``linear``, ``conv1d/2d/3d`` (and non-transposed ``convolution``), ``batch_norm`` and
  ``dropout`` call whose parameters belong to that call alone is *lifted* back into the
  matching ``nn`` layer, at the path of the layer it was exported from (``features.0``), so
  layer selection, pruning, quantization and ``train()`` / ``eval()`` work as on the original;
- ``train()`` / ``eval()`` are ordinary again; a dropout or batch norm that could not be lifted
  (its weights are shared) is fixed in inference form, since no mode flag reaches it;
- the module is returned in eval mode, as every model source gives its model.

A program exported with a fixed batch size is refused: the harness runs several batch sizes.
The leading underscore keeps this module from being loaded as a plugin.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from squeezebench.errors import UserError

DYNAMIC_BATCH_HINT = (
    "export it with a dynamic batch dimension, e.g. torch.export.export(model, (x,), "
    "dynamic_shapes=({0: torch.export.Dim('batch')},))"
)


def usable_module(program: Any, name: str) -> tuple[Any, int]:
    """The program's module with layers lifted, ``train``/``eval`` restored, in eval mode.

    Returns the module and the number of layers lifted. Raises :class:`UserError` when the
    program has a fixed batch size (``name`` is the file, for the message).
    """
    _check_dynamic_batch(program, name)
    module = program.module()
    for attribute in ("train", "eval"):  # torch sets refusing methods on the instance
        vars(module).pop(attribute, None)
    lifted = _Lifter(module).run()
    return module.eval(), lifted


def _check_dynamic_batch(program: Any, name: str) -> None:
    for node in program.graph_module.graph.nodes:
        if node.op != "placeholder" or node.name not in _user_inputs(program):
            continue
        shape = getattr(node.meta.get("val"), "shape", None)
        if shape and isinstance(shape[0], int):
            raise UserError(
                f"{name} was exported with a fixed batch size of {shape[0]}, and squeezebench "
                f"runs batches of several sizes: {DYNAMIC_BATCH_HINT}"
            )


def _user_inputs(program: Any) -> set[str]:
    from torch.export.graph_signature import InputKind

    return {
        spec.arg.name
        for spec in program.graph_signature.input_specs
        if spec.kind == InputKind.USER_INPUT and hasattr(spec.arg, "name")
    }


class _Lifter:
    """Replaces functional layer calls of a graph module by ``call_module`` of real layers."""

    def __init__(self, module: Any) -> None:
        import torch

        self.module = module
        self.graph = module.graph
        aten = torch.ops.aten
        self.builders = {
            aten.linear.default: self._linear,
            aten.conv1d.default: self._conv,
            aten.conv2d.default: self._conv,
            aten.conv3d.default: self._conv,
            aten.convolution.default: self._conv,
            aten.batch_norm.default: self._batch_norm,
            aten.dropout.default: self._dropout,
        }
        self.uses = Counter(n.target for n in self.graph.nodes if n.op == "get_attr")

    def run(self) -> int:
        """Lift what can be lifted; fix the rest of the mode-dependent calls for inference."""
        lifted = 0
        for node in list(self.graph.nodes):
            build = self.builders.get(node.target) if node.op == "call_function" else None
            if build is not None and self._lift(node, build):
                lifted += 1
        self._fix_leftovers_for_inference()
        self.graph.lint()
        self.module.recompile()
        return lifted

    def _lift(self, node: Any, build: Any) -> bool:
        from torch.fx.operator_schemas import normalize_function

        normalized = normalize_function(
            node.target, node.args, node.kwargs, normalize_to_only_use_kwargs=True
        )
        if normalized is None:
            return False
        arguments = dict(normalized.kwargs)
        made = build(arguments)
        if made is None:
            return False
        layer, state = made  # state: {layer attribute: graph node holding it}
        owner = self._sole_owner(node, state) if state else self._fresh_name(node.name)
        if owner is None:
            return False
        for attribute, tensor_node in state.items():
            value = self._attribute(tensor_node.target)
            if attribute in layer._parameters:
                layer._parameters[attribute] = value
            else:
                layer._buffers[attribute] = value
        parent, _, child = owner.rpartition(".")
        setattr(self.module.get_submodule(parent), child, layer)
        with self.graph.inserting_before(node):
            call = self.graph.call_module(owner, (arguments["input"],))
        call.meta = dict(node.meta)
        node.replace_all_uses_with(call)
        self.graph.erase_node(node)
        for tensor_node in state.values():
            for user in list(tensor_node.users):  # BatchNorm's num_batches_tracked += 1
                self.graph.erase_node(user)
            self.graph.erase_node(tensor_node)
        return True

    def _sole_owner(self, node: Any, state: dict[str, Any]) -> str | None:
        """The container all of ``state`` lives in, if it holds nothing else and no other
        node uses it; else None (shared weights stay functional)."""
        import torch

        targets = {}
        for attribute, tensor_node in state.items():
            if getattr(tensor_node, "op", None) != "get_attr" or self.uses[tensor_node.target] > 1:
                return None
            owner, _, name = tensor_node.target.rpartition(".")
            if name != attribute:
                return None
            targets[owner] = None
            extra_users = [u for u in tensor_node.users if u is not node]
            if not all(_is_counter_update(u) for u in extra_users):
                return None
        if len(targets) != 1 or not (owner := next(iter(targets))):
            return None  # several owners, or state on the root module (cannot be replaced)
        container = self.module.get_submodule(owner)
        held = set(container._parameters) | set(container._buffers)
        if type(container) is not torch.nn.Module or container._modules or held != set(state):
            return None
        return owner

    def _fresh_name(self, base: str) -> str:
        name, number = base, 0
        while hasattr(self.module, name):
            number += 1
            name = f"{base}_{number}"
        return name

    def _attribute(self, target: str) -> Any:
        owner, _, name = target.rpartition(".")
        return getattr(self.module.get_submodule(owner), name)

    # -- one builder per lifted call: (layer on the meta device, {attribute: node}) or None --

    def _linear(self, a: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        import torch

        weight = self._tensor(a["weight"])
        if weight is None or weight.dim() != 2:
            return None
        layer = torch.nn.Linear(
            weight.shape[1], weight.shape[0], bias=a.get("bias") is not None, device="meta"
        )
        return layer, _present(weight=a["weight"], bias=a.get("bias"))

    def _conv(self, a: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        import torch

        weight = self._tensor(a["weight"])
        if weight is None or a.get("transposed") or any(a.get("output_padding") or ()):
            return None
        kinds = {3: torch.nn.Conv1d, 4: torch.nn.Conv2d, 5: torch.nn.Conv3d}
        if weight.dim() not in kinds or isinstance(a.get("padding"), str):
            return None
        groups = a.get("groups", 1)
        layer = kinds[weight.dim()](
            weight.shape[1] * groups,
            weight.shape[0],
            tuple(weight.shape[2:]),
            stride=tuple(a["stride"]),
            padding=tuple(a["padding"]),
            dilation=tuple(a["dilation"]),
            groups=groups,
            bias=a.get("bias") is not None,
            device="meta",
        )
        return layer, _present(weight=a["weight"], bias=a.get("bias"))

    def _batch_norm(self, a: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        import torch

        mean = self._tensor(a.get("running_mean"))
        rank = len(getattr(a["input"].meta.get("val"), "shape", ()))
        kinds = {2: torch.nn.BatchNorm1d, 3: torch.nn.BatchNorm1d, 4: torch.nn.BatchNorm2d}
        kinds[5] = torch.nn.BatchNorm3d
        affine = a.get("weight") is not None and a.get("bias") is not None
        if mean is None or rank not in kinds or (not affine and a.get("weight") is not None):
            return None
        layer = kinds[rank](
            mean.shape[0], eps=a["eps"], momentum=a["momentum"], affine=affine, device="meta"
        )
        state = _present(
            weight=a.get("weight"),
            bias=a.get("bias"),
            running_mean=a["running_mean"],
            running_var=a["running_var"],
        )
        counter = self._counter_of(a["running_mean"])
        if counter is not None:
            state["num_batches_tracked"] = counter
        return layer, state

    def _dropout(self, a: dict[str, Any]) -> tuple[Any, dict[str, Any]] | None:
        import torch

        return torch.nn.Dropout(a["p"]), {}

    def _tensor(self, node: Any) -> Any:
        if getattr(node, "op", None) != "get_attr":
            return None
        value = self._attribute(node.target)
        return value if hasattr(value, "dim") else None

    def _counter_of(self, running_mean: Any) -> Any:
        owner = running_mean.target.rpartition(".")[0]
        for node in self.graph.nodes:
            if node.op == "get_attr" and node.target == f"{owner}.num_batches_tracked":
                return node
        return None

    def _fix_leftovers_for_inference(self) -> None:
        import torch

        aten = torch.ops.aten
        flags = {aten.dropout.default: 2, aten.batch_norm.default: 5}
        for node in self.graph.nodes:
            index = flags.get(node.target) if node.op == "call_function" else None
            if index is not None and len(node.args) > index and node.args[index]:
                node.args = (*node.args[:index], False, *node.args[index + 1 :])


def _present(**nodes: Any) -> dict[str, Any]:
    return {name: node for name, node in nodes.items() if node is not None}


def _is_counter_update(node: Any) -> bool:
    import torch

    return node.op == "call_function" and node.target == torch.ops.aten.add_.Tensor
