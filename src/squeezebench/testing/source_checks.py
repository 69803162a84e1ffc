"""Conformance of datasets, model sources and converters: fixed, deterministic, cheap."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from typing import Any

from squeezebench.plugins.contracts import DatasetSplits, LoadedModel
from squeezebench.testing.cases import ConverterCase, DatasetCase, ModelSourceCase
from squeezebench.testing.failures import fail, skip
from squeezebench.testing.reference import fingerprint, in_format

METRICS = ("top1", "embedding")


def splits_digest(splits: DatasetSplits) -> str:
    """A hash of every split's inputs and labels (and the metric)."""
    import numpy as np

    digest = hashlib.sha256(splits.metric.encode())
    for split in (splits.train, splits.calibration, splits.test):
        for array in (split.inputs, split.labels):
            if array is None:
                digest.update(b"none")
                continue
            array = np.asarray(array)
            digest.update(f"{array.dtype}{array.shape}".encode())
            digest.update(array.tobytes() if array.dtype != object else repr(array).encode())
    return digest.hexdigest()


def check_dataset_splits(case: DatasetCase) -> None:
    """``load`` gives three non-empty splits of numpy arrays, labels matching inputs, and a
    metric squeezebench knows."""
    import numpy as np

    label, splits = case.label, case.dataset().load()
    if not isinstance(splits, DatasetSplits):
        fail(label, f"load must return DatasetSplits, got {type(splits).__name__}")
    if splits.metric not in METRICS:
        fail(label, f"metric {splits.metric!r} is not one of {', '.join(METRICS)}")
    shapes = set()
    for name in ("train", "calibration", "test"):
        split = getattr(splits, name)
        if not isinstance(split.inputs, np.ndarray) or len(split.inputs) == 0:
            fail(label, f"the {name} split needs a non-empty numpy array of inputs")
        if split.labels is not None and len(split.labels) != len(split.inputs):
            fail(
                label,
                f"the {name} split has {len(split.labels)} labels for {len(split.inputs)} inputs",
            )
        shapes.add(split.inputs.shape[1:])
    if len(shapes) != 1:
        fail(label, f"every split's samples need one shape, got {sorted(shapes)}")
    if splits.metric == "top1" and not np.issubdtype(
        np.asarray(splits.test.labels).dtype, np.integer
    ):
        fail(label, "top1 needs integer class labels in the test split")


def check_dataset_is_fixed(case: DatasetCase) -> None:
    """Two loads, and a load in a fresh process (as each worker does), give the same splits."""
    first = splits_digest(case.dataset().load())
    if splits_digest(case.dataset().load()) != first:
        fail(case.label, "two loads gave different splits: fix the seed of the split")
    other = _in_fresh_process(case.dataset, "dataset", {})
    if other is not None and other != first:
        fail(
            case.label,
            "a fresh process loaded other splits: workers would measure on "
            "other data than the parent (seed every random choice, do not depend on order)",
        )


def check_model_source(case: ModelSourceCase) -> None:
    """``check`` accepts the reference; ``load`` gives a LoadedModel whose artifact runs on
    its example input; two loads with one seed give the same weights, in a fresh process too."""
    source = case.source()
    problem = source.check(case.reference, case.base_dir)
    if problem is not None:
        fail(case.label, f"check refuses its own reference: {problem}")
    loaded = source.load(case.reference, case.base_dir, 0, trusted=case.trusted)
    if not isinstance(loaded, LoadedModel):
        fail(case.label, f"load must return a LoadedModel, got {type(loaded).__name__}")
    if loaded.example_input is None:
        fail(case.label, "the LoadedModel needs an example input (exports and latency use it)")
    first = fingerprint(loaded.artifact, loaded.format)
    if loaded.format == "torch.module":
        from squeezebench.testing.reference import torch_outputs

        try:
            torch_outputs(loaded.artifact, loaded.example_input)
        except Exception as error:
            fail(case.label, f"the model does not run its example input: {error}")
    again = source.load(case.reference, case.base_dir, 0, trusted=case.trusted)
    if fingerprint(again.artifact, again.format) != first:
        fail(case.label, "two loads with seed 0 gave different weights")
    arguments = {
        "reference": case.reference,
        "base_dir": str(case.base_dir),
        "trusted": case.trusted,
    }
    other = _in_fresh_process(case.source, "model source", arguments)
    if other is not None and other != first:
        fail(
            case.label,
            "a fresh process loaded other weights: every worker process loads "
            "the model again and refuses one that differs from the parent's",
        )


def check_model_source_check_is_cheap(case: ModelSourceCase) -> None:
    """``check`` runs at validation time: in a fresh process it must not import torch."""
    result = _in_fresh_process(
        case.source,
        "model source check",
        {"reference": case.reference, "base_dir": str(case.base_dir)},
    )
    if result is None:
        skip(f"{case.source.__qualname__} is not importable from a fresh process")
    if result != "cheap":
        fail(case.label, "check imported torch: import heavy packages inside load only")


def check_converter(case: ConverterCase) -> None:
    """``convert`` gives the ``target`` format, the same bytes every time."""
    cls = case.converter
    for attribute in ("name", "source", "target"):
        if not isinstance(getattr(cls, attribute, None), str):
            fail(cls.__name__, f"set the class attribute {attribute}")
    reason = cls().check()
    if reason is not None:
        skip(f"{case.label} cannot run here: {reason}")
    made = case.artifact() if case.artifact else in_format(cls.source)
    if made is None:
        skip(f"give ConverterCase(artifact=...): the kit cannot make {cls.source}")
    artifact, example = made
    first = cls().convert(artifact, example)
    if cls.target == "onnx" and not isinstance(first, bytes):
        fail(case.label, f"onnx is the model's bytes, convert returned {type(first).__name__}")
    artifact, example = case.artifact() if case.artifact else in_format(cls.source)
    second = cls().convert(artifact, example)
    if fingerprint(first, cls.target) != fingerprint(second, cls.target):
        fail(case.label, "two conversions of the same artifact differ (results are cached)")


_SCRIPT = """
import hashlib, importlib, json, sys
from pathlib import Path
module, qualname, kind, arguments = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
try:
    cls = importlib.import_module(module)
    for part in qualname.split("."):
        cls = getattr(cls, part)
except (ImportError, AttributeError):
    print("unimportable")
    raise SystemExit(0)
if kind == "model source check":
    cls().check(arguments["reference"], Path(arguments["base_dir"]))
    print("expensive" if "torch" in sys.modules else "cheap")
elif kind == "dataset":
    from squeezebench.testing.source_checks import splits_digest
    print(splits_digest(cls().load()))
else:
    from squeezebench.testing.reference import fingerprint
    loaded = cls().load(arguments["reference"], Path(arguments["base_dir"]), 0,
                        trusted=arguments["trusted"])
    print(fingerprint(loaded.artifact, loaded.format))
"""


def _in_fresh_process(cls: type, kind: str, arguments: dict[str, Any]) -> str | None:
    """Run the check's load in a new interpreter (with this one's ``sys.path``); None when
    ``cls`` cannot be imported there (a class defined inside a function, say)."""
    if "<locals>" in cls.__qualname__ or cls.__module__ == "__main__":
        return None
    command = [sys.executable, "-c", _SCRIPT, cls.__module__, cls.__qualname__, kind]
    command.append(json.dumps(arguments))
    path = os.pathsep.join(entry for entry in sys.path if isinstance(entry, str) and entry)
    environment = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, env=environment)
    if done.returncode != 0:
        fail(cls.__qualname__, f"loading in a fresh process failed:\n{done.stderr[-2000:]}")
    result = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return None if result == "unimportable" else result
