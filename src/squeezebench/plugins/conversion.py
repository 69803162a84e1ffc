"""Format conversions between plugins: the shortest chain of registered converters.

A pipeline gives an artifact in some format (``torch.module``); a backend runs a few
(``onnx``). When they differ, the spec's validation (is there a way?) and the harness (take
it) look for the shortest chain of registered
:class:`~squeezebench.plugins.contracts.Converter` classes from the one to the other, both
between a pipeline's steps (a method that takes ``onnx`` after one that gives
``torch.module``) and between the last step and the target's backend. Nothing here imports
a heavy package: the converters do, in their own ``convert``.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from squeezebench.errors import ConversionError, first_line
from squeezebench.plugins.contracts import Converter
from squeezebench.plugins.registry import Registry

ConverterChain = tuple[type[Converter], ...]


class ConverterUnavailable(ConversionError):
    """A converter of the chain cannot run on this machine (its package is missing).

    Unlike a plain :class:`ConversionError` (this artifact cannot be converted), this says
    something about the machine, so a target's ``if_unavailable: fail`` turns it into an error.
    """


def find_chain(registry: Registry, source: str, targets: Iterable[str]) -> ConverterChain | None:
    """The shortest chain of converters from ``source`` to any of ``targets``, or None.

    An empty chain means ``source`` is already one of ``targets``. Among chains of equal
    length the one whose converter names sort first wins, so the choice is stable.
    """
    wanted = set(targets)
    if source in wanted:
        return ()
    converters = [registry.get("converter", name) for name in registry.names("converter")]
    previous: dict[str, tuple[str, type[Converter]] | None] = {source: None}
    queue = deque([source])
    while queue:
        current = queue.popleft()
        for converter in converters:
            if converter.source != current or converter.target in previous:
                continue
            previous[converter.target] = (current, converter)
            if converter.target in wanted:
                return _walk_back(previous, converter.target)
            queue.append(converter.target)
    return None


def _walk_back(previous: dict[str, tuple[str, type[Converter]] | None], end: str) -> ConverterChain:
    chain: list[type[Converter]] = []
    step = previous[end]
    while step is not None:
        chain.append(step[1])
        step = previous[step[0]]
    return tuple(reversed(chain))


def chain_label(chain: Sequence[type[Converter]]) -> str:
    """``torch-to-onnx`` or ``torch-to-onnx, onnx-to-tensorrt``; empty without converters."""
    return ", ".join(converter.name for converter in chain)


def no_path_reason(source: str, runs: Sequence[str], who: str) -> str:
    """The reason recorded when no registered converter connects ``source`` to ``runs``."""
    return (
        f"the pipeline gives {source} but {who} takes {', '.join(runs)}, "
        f"and no registered converter connects them"
    )


def check_chain(chain: Sequence[type[Converter]]) -> str | None:
    """Why one of ``chain``'s converters cannot run here (missing package), or None."""
    for converter in chain:
        problem = converter().check()
        if problem:
            return f"converter {converter.name}: {problem}"
    return None


@dataclass(frozen=True)
class Converted:
    """An artifact after a chain of conversions, and what they cost."""

    artifact: Any
    format: str
    chain: tuple[str, ...]
    seconds: float


def run_chain(
    chain: Sequence[type[Converter]], artifact: Any, source: str, example_input: Any
) -> Converted:
    """Convert ``artifact`` along ``chain`` (timed).

    Raises :class:`ConverterUnavailable` when a converter cannot run here and
    :class:`ConversionError` when one rejects the artifact; any other exception from a
    converter becomes a ConversionError with a one-line reason (exporters tend to put a
    whole graph dump in their messages).
    """
    problem = check_chain(chain)
    if problem:
        raise ConverterUnavailable(problem)
    start = time.perf_counter()
    current_format = source
    for converter in chain:
        try:
            artifact = converter().convert(artifact, example_input)
        except ConversionError as error:
            raise ConversionError(f"{converter.name}: {first_line(str(error), 300)}") from None
        except Exception as error:
            raise ConversionError(
                f"{converter.name} failed: {type(error).__name__}: {first_line(str(error), 300)}"
            ) from None
        current_format = converter.target
    seconds = time.perf_counter() - start
    return Converted(artifact, current_format, tuple(c.name for c in chain), seconds)
