"""Conformance of a :class:`~squeezebench.plugins.Backend` and the ``Runner`` it prepares."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Mapping
from typing import Any

from squeezebench.plugins.contracts import Runner
from squeezebench.testing.cases import BackendCase
from squeezebench.testing.failures import fail, skip
from squeezebench.testing.params_checks import check_params_model
from squeezebench.testing.reference import in_format, torch_outputs

BATCH_SIZES = (1, 3)


def target_for(backend: type, device: str = "cpu", options: Mapping[str, Any] = ()) -> Any:
    """The :class:`~squeezebench.plugins.TargetSpec` a backend receives for this target.

    As when a spec is loaded: the options are validated by the backend's ``Options`` and
    stored as their JSON dump with every default filled in.
    """
    from squeezebench.spec.models import TargetSpec

    validated = backend.Options.model_validate(dict(options))
    return TargetSpec(
        backend=backend.name, device=device, options=validated.model_dump(mode="json")
    )


def check_backend_declares_its_contract(case: BackendCase) -> None:
    """``name``, ``formats``, ``devices`` and a summary are set; the case's device is known."""
    cls = case.backend
    name = getattr(cls, "name", None)
    if not isinstance(name, str) or not name or ":" in name:
        fail(cls.__name__, "set the class attribute name (no colon: targets are backend:device)")
    for attribute in ("formats", "devices"):
        value = getattr(cls, attribute)
        if not (isinstance(value, tuple) and value and all(isinstance(v, str) for v in value)):
            fail(name, f"{attribute} must be a non-empty tuple of strings, got {value!r}")
    problem = cls.check_device(case.device)  # the backend's own rule, as specs are checked
    if problem:
        fail(name, f"device {case.device}: {problem}")
    if not (cls.__doc__ or "").strip():
        fail(name, "give the class a docstring: its first line is the backend's summary")


def check_backend_options(case: BackendCase) -> None:
    """The ``Options`` model is closed and the case's options round-trip through JSON."""
    check_params_model(case.label, case.backend.Options, case.options)


def check_backend_check_says_why(case: BackendCase) -> None:
    """``check(target)`` is None or one line saying why the target cannot run here."""
    reason = case.backend().check(target_for(case.backend, case.device, case.options))
    if reason is None:
        return
    if not isinstance(reason, str) or not reason.strip() or "\n" in reason.strip():
        fail(case.label, f"check must return None or a one-line reason, got {reason!r}")


def check_runner_runs_batches(case: BackendCase) -> None:
    """``place``/``run``/``synchronize``/``fetch`` give one numpy output per input, equal
    to torch's on the reference model; ``artifact_bytes`` is stable; ``timer`` and
    ``lazy_prepare_seconds`` keep their contract."""
    import numpy as np

    runner, example, expected = _prepare(case)
    try:
        for batch_size in BATCH_SIZES:
            batch = _batch(example, batch_size)
            placed = runner.place(batch)
            output = runner.run(placed)
            if runner.synchronize() is not None:
                fail(case.label, "synchronize must return None (it only waits)")
            fetched = runner.fetch(output)
            if not isinstance(fetched, np.ndarray):
                fail(case.label, f"fetch must return a numpy array, got {type(fetched).__name__}")
            if fetched.shape[:1] != (batch_size,):
                fail(case.label, f"a batch of {batch_size} gave outputs of shape {fetched.shape}")
            runner.synchronize()  # waiting again changes nothing once the work is done
            if not np.array_equal(runner.fetch(output), fetched, equal_nan=True):
                fail(
                    case.label,
                    "the output changed after a second synchronize: does "
                    "synchronize really wait for run's work?",
                )
            if expected is not None:
                want = _batch(expected, batch_size)
                if not np.allclose(fetched, want, rtol=case.rtol, atol=case.atol):
                    worst = float(np.max(np.abs(fetched - want)))
                    fail(
                        case.label,
                        f"outputs differ from torch's by up to {worst:.3g} "
                        f"(batch {batch_size}; rtol {case.rtol}, atol {case.atol})",
                    )
            _check_timer(case.label, runner, placed)
        payload = runner.artifact_bytes()
        if not isinstance(payload, bytes) or not payload:
            fail(case.label, "artifact_bytes must return the non-empty bytes a user ships")
        if runner.artifact_bytes() != payload:
            fail(case.label, "artifact_bytes changed between two calls")
        lazy = runner.lazy_prepare_seconds()
        if not isinstance(lazy, int | float) or lazy < 0:
            fail(case.label, f"lazy_prepare_seconds must be seconds >= 0, got {lazy!r}")
    finally:
        runner.close()


def check_runner_close_releases(case: BackendCase) -> None:
    """``close`` can be called twice, restores torch's thread count, and leaves nothing
    holding on to the runner (no global cache keeps its session or memory alive)."""
    import torch

    threads = torch.get_num_threads()
    runner, example, _ = _prepare(case)
    runner.run(runner.place(_batch(example, 1)))
    runner.synchronize()
    runner.close()
    try:
        runner.close()
    except Exception as error:
        fail(case.label, f"a second close raised {type(error).__name__}: {error}")
    if torch.get_num_threads() != threads:
        fail(case.label, f"close left torch at {torch.get_num_threads()} threads, not {threads}")
    reference = weakref.ref(runner)
    del runner
    gc.collect()
    if reference() is not None:
        holders = [type(r).__name__ for r in gc.get_referrers(reference())][:5]
        fail(case.label, f"the closed runner is still referenced (by {', '.join(holders)})")


def _prepare(case: BackendCase) -> tuple[Runner, Any, Any]:
    """A runner of the case's artifact, an example batch and torch's outputs (or None)."""
    backend = case.backend()
    target = target_for(case.backend, case.device, case.options)
    reason = backend.check(target)
    if reason is not None:
        skip(f"{case.label} cannot run here: {reason}")
    expected = None
    if case.artifact is not None:
        artifact, example = case.artifact()
    else:
        made = next(
            (found for fmt in case.backend.formats if (found := in_format(fmt)) is not None),
            None,
        )
        if made is None:
            skip(f"give BackendCase(artifact=...): the kit cannot make {case.backend.formats}")
        artifact, example = made
        module, _ = in_format("torch.module")
        expected = torch_outputs(module, _batch_tensor(example, max(BATCH_SIZES)))
    from squeezebench.errors import BackendUnavailable

    try:
        runner = backend.prepare(artifact, target)
    except BackendUnavailable as error:
        skip(f"{case.label} cannot run this artifact here: {error}")
    if not isinstance(runner, Runner):
        fail(case.label, f"prepare must return a Runner, got {type(runner).__name__}")
    return runner, example, expected


def _batch(example: Any, size: int) -> Any:
    import numpy as np

    array = example.detach().cpu().numpy() if hasattr(example, "detach") else np.asarray(example)
    repeats = -(-size // len(array))
    return np.ascontiguousarray(np.concatenate([array] * repeats)[:size])


def _batch_tensor(example: Any, size: int) -> Any:
    import torch

    return torch.from_numpy(_batch(example, size))


def _check_timer(label: str, runner: Runner, placed: Any) -> None:
    timer = runner.timer()
    if timer is None:
        return
    for method in ("start", "stop", "elapsed_ms"):
        if not callable(getattr(timer, method, None)):
            fail(label, f"timer() returned {type(timer).__name__}, which has no {method}()")
    timer.start()
    runner.run(placed)
    timer.stop()
    elapsed = timer.elapsed_ms()
    if not isinstance(elapsed, int | float) or elapsed < 0:
        fail(label, f"timer.elapsed_ms() must be milliseconds >= 0, got {elapsed!r}")
