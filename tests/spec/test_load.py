"""``load_spec``: the quickstart, every kind of broken spec, hashing, JSON and unreadable files."""

from __future__ import annotations

import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml

from squeezebench.errors import UserError
from squeezebench.plugins.builtin.models import (
    builtin_source,
    digits_models,
    file_source,
    python_source,
)
from squeezebench.plugins.devices import device_forms
from squeezebench.spec import (
    BASELINE,
    BenchmarkSpec,
    ResolvedSpec,
    Spec,
    SpecError,
    TargetSpec,
    load_spec,
)

from .conftest import BROKEN_EXAMPLE, QUICKSTART

BASE = "name: t\nmodel: builtin:digits-mlp\n"
SWEPT = BASE + "variants:\n  p:\n    - prune.magnitude: {sparsity: 0.5}\nsweep:\n  p:\n"


def fill(text: str, registry, tmp_path: Path | None = None) -> str:
    """Replace the ``{placeholders}`` of an expected message by the names that are registered
    (or declared) now, so that adding a plugin or a setting does not break these tests."""

    def listed(names) -> str:
        return ", ".join(sorted(names))

    values = {
        "methods": listed(registry.names("method")),
        "backends": listed(registry.names("backend")),
        "sources": listed(registry.names("model source")),
        "prune_params": listed(registry.get("method", "prune.magnitude").Params.model_fields),
        "torch_options": listed(registry.get("backend", "torch").Options.model_fields),
        "torch_devices": device_forms(registry.get("backend", "torch").devices),
        "builtin_models": listed(builtin_source.DESCRIPTIONS),
        "spec_keys": listed(Spec.model_fields),
        "benchmark_keys": listed(BenchmarkSpec.model_fields),
        "target_keys": listed(TargetSpec.model_fields),
    }
    if tmp_path is not None:
        values["dir"] = str(tmp_path)
    for name, value in values.items():
        text = text.replace("{" + name + "}", value)
    return text


def errors_of(path: Path, registry) -> list[str]:
    """The rendered lines of the SpecError that loading ``path`` must raise."""
    with pytest.raises(SpecError) as caught:
        load_spec(path, registry)
    lines = str(caught.value).splitlines()
    assert len(lines) == len(caught.value.issues)
    return lines


def single_error(path: Path, registry) -> str:
    lines = errors_of(path, registry)
    assert len(lines) == 1, lines
    return lines[0]


# -- the quickstart -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def quickstart(registry) -> ResolvedSpec:
    return load_spec(QUICKSTART, registry)


def test_quickstart_variants_baseline_first_and_sweep_expanded(quickstart):
    assert [v.name for v in quickstart.variants] == [
        "baseline",
        "int8",
        "pruned[sparsity=0.5]",
        "pruned[sparsity=0.7]",
        "pruned[sparsity=0.9]",
        "pruned-int8",
        "ort-int8",
    ]
    baseline = quickstart.variants[0]
    assert baseline.name == BASELINE
    assert baseline.steps == ()
    assert baseline.steps_json() == "[]"


def params_json(registry, method: str, **params) -> dict:
    """The params of ``method`` with every default filled in, as a step stores them."""
    return registry.get("method", method).Params.model_validate(params).model_dump(mode="json")


def test_quickstart_sweep_points_override_the_swept_param(quickstart, registry):
    swept = {v.name: v for v in quickstart.variants if v.name.startswith("pruned[")}
    for sparsity in (0.5, 0.7, 0.9):
        variant = swept[f"pruned[sparsity={sparsity}]"]
        assert variant.sweep_values == {"sparsity": sparsity}
        (step,) = variant.steps
        assert step.method == "prune.magnitude"
        assert step.to_json() == {
            "method": "prune.magnitude",
            "params": params_json(registry, "prune.magnitude", sparsity=sparsity, scope="global"),
        }
        assert step.to_json()["params"]["sparsity"] == sparsity


def test_quickstart_steps_have_defaults_filled(quickstart, registry):
    variants = {v.name: v for v in quickstart.variants}
    prune, quantize = variants["pruned-int8"].steps
    assert prune.to_json() == {
        "method": "prune.magnitude",
        "params": params_json(registry, "prune.magnitude", sparsity=0.7),
    }
    assert prune.to_json()["params"]["scope"] == "global"  # not in the file: its default
    assert quantize.to_json() == {
        "method": "quantize.dynamic_int8",
        "params": params_json(registry, "quantize.dynamic_int8"),
    }
    assert json.loads(variants["int8"].steps_json()) == [quantize.to_json()]
    assert variants["int8"].sweep_values == {}


def torch_options(registry, **options) -> dict:
    """The options of the torch backend with every default filled in, as a target stores them."""
    return registry.get("backend", "torch").Options.model_validate(options).model_dump(mode="json")


def test_quickstart_targets_dataset_and_settings(quickstart, registry):
    ort_options = registry.get("backend", "onnxruntime").Options(threads=2).model_dump(mode="json")
    ov_options = registry.backend("openvino").Options(threads=2).model_dump(mode="json")
    assert quickstart.targets == (
        TargetSpec(
            backend="torch", device="cpu", options=torch_options(registry, threads=2), name=None
        ),
        TargetSpec(backend="onnxruntime", device="cpu", options=ort_options, name=None),
        TargetSpec(backend="openvino", device="cpu", options=ov_options, name=None),
    )
    assert quickstart.targets[0].options["threads"] == 2
    assert quickstart.targets[0].label == "torch:cpu"
    assert quickstart.dataset == "digits"
    spec = quickstart.spec
    assert spec.name == "quickstart"
    assert spec.model == "builtin:digits-cnn"
    assert spec.benchmark.batch_sizes == [1, 32]
    assert spec.benchmark.min_repeats == 30
    assert spec.benchmark.noise_threshold == 0.1  # not in the file: its default
    assert spec.output.dir == "results"
    assert quickstart.path == QUICKSTART
    assert quickstart.base_dir == QUICKSTART.parent


def test_minimal_spec_gets_every_default(spec_file, registry):
    resolved = load_spec(spec_file(BASE), registry)
    assert [v.name for v in resolved.variants] == ["baseline"]
    assert resolved.dataset is None
    assert resolved.spec.seed == 0
    assert resolved.spec.output.dir == "results"
    assert resolved.spec.benchmark.batch_sizes == [1]
    (target,) = resolved.targets
    assert (target.backend, target.device, target.name) == ("torch", "cpu", None)
    assert target.options == torch_options(registry)  # backend option defaults filled in
    assert target.options["threads"] == (os.cpu_count() or 1)


def test_short_and_long_targets_and_names(spec_file, registry):
    path = spec_file(
        BASE + "targets:\n  - torch:cpu\n  - {backend: torch, name: one, options: {threads: 1}}\n"
    )
    first, second = load_spec(path, registry).targets
    assert (first.label, second.label) == ("torch:cpu", "one")
    assert second.device == "cpu"
    assert second.options == torch_options(registry, threads=1)


def test_two_sweep_axes_give_their_product_in_order(spec_file, registry):
    path = spec_file(
        SWEPT
        + "    prune.magnitude.sparsity: [0.1, 0.2]\n    prune.magnitude.scope: [global, layer]\n"
    )
    assert [v.name for v in load_spec(path, registry).variants] == [
        "baseline",
        "p[sparsity=0.1,scope=global]",
        "p[sparsity=0.1,scope=layer]",
        "p[sparsity=0.2,scope=global]",
        "p[sparsity=0.2,scope=layer]",
    ]


def test_sweep_key_may_name_the_step_by_index(spec_file, registry):
    path = spec_file(SWEPT + "    0.sparsity: [0.1, 0.2]\n")
    variants = load_spec(path, registry).variants
    assert [v.name for v in variants] == ["baseline", "p[sparsity=0.1]", "p[sparsity=0.2]"]


def test_load_spec_validates_without_loading_or_training_the_model(monkeypatch, registry, tmp_path):
    def forbidden(*args, **kwargs):
        raise AssertionError("load_spec must not load or train a model")

    for source in (
        builtin_source.BuiltinModels,
        file_source.ModelFile,
        python_source.PythonFactory,
    ):
        monkeypatch.setattr(source, "load", forbidden)
    monkeypatch.setattr(digits_models, "trained_model", forbidden)
    monkeypatch.setattr(digits_models, "train", forbidden)
    monkeypatch.setenv("SQUEEZEBENCH_CACHE_DIR", str(tmp_path / "cache"))
    for model in ("builtin:digits-cnn", "builtin:digits-mlp"):
        path = tmp_path / "spec.yaml"
        path.write_text(f"name: t\nmodel: {model}\n", encoding="utf-8")
        load_spec(path, registry)
    load_spec(QUICKSTART, registry)
    assert not (tmp_path / "cache").exists()


def test_relative_model_file_is_resolved_against_the_spec_folder(tmp_path, registry, monkeypatch):
    (tmp_path / "models").mkdir()
    with zipfile.ZipFile(tmp_path / "models" / "net.pt2", "w") as archive:  # a .pt2 by its
        archive.writestr("net/archive_format", "pt2")  # members; load_spec does not load it
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: t\nmodel: file:models/net.pt2\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path / "models")  # the working directory does not matter
    assert load_spec(str(spec), registry).spec.model == "file:models/net.pt2"


# -- broken specs: one issue each -----------------------------------------------------------------

# (spec text, expected "line:col: where: message" after the file name), with the
# placeholders of ``fill``: "{dir}" is tmp_path, "{methods}" the registered methods...
BROKEN = {
    "bad-yaml-indent": (
        "name: t\n  model: x\n",
        "2:8: invalid YAML: mapping values are not allowed here",
    ),
    "bad-yaml-unclosed": (
        "name: t\nmodel: [builtin:digits-mlp\n",
        "3:1: invalid YAML: expected ',' or ']', but got '<stream end>': is the '[' at line 2, "
        "column 8 closed?",
    ),
    "duplicate-key": (
        BASE + "name: u\n",
        "3:1: name: duplicate key 'name' (first defined at line 1)",
    ),
    "unknown-top-level-key": (
        BASE + "varaints: {}\n",
        "3:1: varaints: unknown key 'varaints'; did you mean 'variants'? (valid: {spec_keys})",
    ),
    "unknown-nested-key": (
        BASE + "benchmark:\n  batch_size: [1]\n",
        "4:3: benchmark.batch_size: unknown key 'batch_size'; did you mean 'batch_sizes'? "
        "(valid: {benchmark_keys})",
    ),
    "missing-required-key": (
        "model: builtin:digits-mlp\n",
        "1:1: name: missing required key 'name'",
    ),
    "unknown-method": (
        BASE + "variants:\n  p:\n    - prune.magnitud: {sparsity: 0.5}\n",
        "5:7: variants.p[0]: unknown method 'prune.magnitud'; did you mean 'prune.magnitude'? "
        "(valid: {methods})",
    ),
    "unknown-bare-method": (
        BASE + "variants:\n  p:\n    - quantize.dynamic\n",
        "5:7: variants.p[0]: unknown method 'quantize.dynamic'; did you mean "
        "'quantize.dynamic_int8'? (valid: {methods})",
    ),
    "param-out-of-range": (
        BASE + "variants:\n  pruned:\n    - prune.magnitude: {sparsity: 1.5}\n",
        "5:35: variants.pruned[0] prune.magnitude.sparsity: Input should be less than 1 (got 1.5)",
    ),
    "param-wrong-type": (
        BASE + "variants:\n  pruned:\n    - prune.magnitude: {sparsity: lots}\n",
        "5:35: variants.pruned[0] prune.magnitude.sparsity: Input should be a valid number, "
        "unable to parse string as a number (got 'lots')",
    ),
    "param-bad-choice": (
        BASE + "variants:\n  p:\n    - prune.magnitude:\n        sparsity: 0.5\n"
        "        scope: globl\n",
        "7:16: variants.p[0] prune.magnitude.scope: Input should be 'global' or 'layer' "
        "(got 'globl')",
    ),
    "unknown-param": (
        BASE + "variants:\n  p:\n    - prune.magnitude: {sparsity: 0.5, scop: layer}\n",
        "5:40: variants.p[0] prune.magnitude.scop: unknown key 'scop'; did you mean 'scope'? "
        "(valid: {prune_params})",
    ),
    "missing-param": (
        BASE + "variants:\n  p:\n    - prune.magnitude\n",
        "5:7: variants.p[0] prune.magnitude.sparsity: missing required key 'sparsity'",
    ),
    "params-not-a-mapping": (
        BASE + "variants:\n  p:\n    - prune.magnitude: 0.5\n",
        "5:24: variants.p[0].prune.magnitude: the params of prune.magnitude must be a mapping "
        "of name: value (got 0.5)",
    ),
    "step-with-two-keys": (
        BASE
        + "variants:\n  p:\n    - {prune.magnitude: {sparsity: 0.5}, quantize.dynamic_int8: {}}\n",
        "5:7: variants.p[0]: a step is a method name ('quantize.dynamic_int8') or a single-key "
        "mapping ('prune.magnitude: {sparsity: 0.5}')",
    ),
    "steps-not-a-list": (
        BASE + "variants:\n  p: quantize.dynamic_int8\n",
        "4:6: variants.p: Input should be a valid list (got 'quantize.dynamic_int8')",
    ),
    "wrong-type-top-level": (
        BASE + "seed: abc\n",
        "3:7: seed: seed must be an integer or a non-empty list of integers, got 'abc'",
    ),
    "wrong-type-nested": (
        BASE + "benchmark:\n  batch_sizes: [0, 1]\n",
        "4:17: benchmark.batch_sizes[0]: Input should be greater than or equal to 1 (got 0)",
    ),
    "model-without-scheme": (
        "name: t\nmodel: digits\n",
        "2:8: model: a model reference is '<scheme>:<reference>', got 'digits' "
        "(registered schemes: {sources})",
    ),
    "model-without-scheme-of-a-builtin": (
        "name: t\nmodel: digits-cnn\n",
        "2:8: model: a model reference is '<scheme>:<reference>', got 'digits-cnn'; "
        "did you mean 'builtin:digits-cnn'? (registered schemes: {sources})",
    ),
    "model-with-unknown-scheme": (
        "name: t\nmodel: bultin:digits-cnn\n",
        "2:8: model: unknown model source 'bultin'; did you mean 'builtin'? (valid: {sources})",
    ),
    "seed-beyond-int64": (
        BASE + "seed: 9223372036854775808\n",
        "3:7: seed: integer 9223372036854775808 is out of range: numbers in a spec must fit in "
        "64 bits (-2**63 to 2**63 - 1)",
    ),
    "seed-negative": (
        BASE + "seed: [3, -1]\n",
        "3:7: seed: seed -1 is out of range: seeds go from 0 to 2**63 - 1 "
        "(9223372036854775807), the range results store and every random generator accepts",
    ),
    "batch-size-beyond-int32": (
        BASE + "benchmark: {batch_sizes: [2147483648]}\n",
        "3:27: benchmark.batch_sizes[0]: Input should be less than or equal to 2147483647 "
        "(got 2147483648)",
    ),
    "infinite-warmup": (
        BASE + "benchmark: {warmup_seconds: .inf}\n",
        "3:29: benchmark.warmup_seconds: Input should be a finite number (got inf)",
    ),
    "missing-model-file": (
        "name: t\nmodel: file:nope.pt2\n",
        "2:8: model: model file not found: {dir}/nope.pt2",
    ),
    "unknown-model-scheme": (
        "name: t\nmodel: bultin:digits-mlp\n",
        "2:8: model: unknown model source 'bultin'; did you mean 'builtin'? (valid: {sources})",
    ),
    "unknown-builtin-model": (
        "name: t\nmodel: builtin:digits-cn\n",
        "2:8: model: unknown built-in model 'digits-cn'; did you mean 'digits-cnn'? "
        "(valid: {builtin_models})",
    ),
    "bad-python-model": (
        "name: t\nmodel: python:foo\n",
        "2:8: model: expected 'python:package.module:factory', got 'python:foo'",
    ),
    "missing-python-module": (
        "name: t\nmodel: python:no_such_module_xyz:build\n",
        "2:8: model: no Python module named 'no_such_module_xyz' (looked in {dir} and sys.path)",
    ),
    "unknown-dataset": (
        BASE + "dataset: builtin:digit\n",
        "3:10: dataset: unknown dataset 'digit'; did you mean 'digits'? "
        "(valid: digits, paraphrases)",
    ),
    "unknown-backend-short": (
        BASE + "targets:\n  - tourch:cpu\n",
        "4:5: targets[0]: unknown backend 'tourch'; did you mean 'torch'? (valid: {backends})",
    ),
    "unknown-backend-long": (
        BASE + "targets:\n  - backend: tourch\n",
        "4:14: targets[0].backend: unknown backend 'tourch'; did you mean 'torch'? "
        "(valid: {backends})",
    ),
    "unknown-device": (
        BASE + "targets:\n  - torch:tpu\n",
        "4:5: targets[0]: device 'tpu' is not a device of backend torch; did you mean 'cpu'? "
        "(valid: {torch_devices})",
    ),
    "device-index-a-word": (
        BASE + "targets:\n  - torch:cuda:first\n",
        "4:5: targets[0]: device 'cuda:first' has the index 'first'; an index is a whole "
        "number in plain digits; did you mean 'cuda'? (valid: {torch_devices})",
    ),
    "device-index-negative": (
        BASE + "targets:\n  - {backend: torch, device: 'cuda:-1'}\n",
        "4:30: targets[0].device: device 'cuda:-1' has the index '-1'; an index is a whole "
        "number in plain digits; did you mean 'cuda'? (valid: {torch_devices})",
    ),
    "device-index-missing": (
        BASE + "targets:\n  - 'torch:cuda:'\n",
        "4:5: targets[0]: device 'cuda:' has nothing after 'cuda:'; did you mean 'cuda'? "
        "(valid: {torch_devices})",
    ),
    "cpu-with-index": (
        BASE + "targets:\n  - torch:cpu:3\n",
        "4:5: targets[0]: device 'cpu:3' has an index, but cpu takes none; did you mean 'cpu'? "
        "(valid: {torch_devices})",
    ),
    "device-two-indices": (
        BASE + "targets:\n  - torch:cuda:0:1\n",
        "4:5: targets[0]: device 'cuda:0:1' has more than one ':'; did you mean 'cuda:0'? "
        "(valid: {torch_devices})",
    ),
    "device-with-white-space": (
        BASE + "targets:\n  - {backend: torch, device: 'cuda: 1'}\n",
        "4:30: targets[0].device: device 'cuda: 1' contains white space; did you mean "
        "'cuda:1'? (valid: {torch_devices})",
    ),
    "device-index-in-other-digits": (
        BASE + "targets:\n  - {backend: torch, device: 'cuda:\u0661'}\n",
        "4:30: targets[0].device: device 'cuda:\u0661' has the index '\u0661'; an index is a "
        "whole number in plain digits; did you mean 'cuda:1'? (valid: {torch_devices})",
    ),
    "device-index-beyond-torch": (
        BASE + "targets:\n  - torch:cuda:128\n",
        "4:5: targets[0]: device 'cuda:128' has the index 128, above 127; did you mean 'cuda'? "
        "(valid: {torch_devices})",
    ),
    "device-of-another-backend": (
        BASE + "targets:\n  - tensorrt:cpu\n",
        "4:5: targets[0]: device 'cpu' is not a device of backend tensorrt "
        "(valid: cuda, cuda:N with N from 0 to 127)",
    ),
    "unknown-backend-option": (
        BASE + "targets:\n  - backend: torch\n    options: {thread: 2}\n",
        "5:15: targets[0].options.thread: unknown key 'thread'; did you mean 'threads'? "
        "(valid: {torch_options})",
    ),
    "backend-option-out-of-range": (
        BASE + "targets:\n  - backend: torch\n    options: {threads: 0}\n",
        "5:24: targets[0].options.threads: Input should be greater than or equal to 1 (got 0)",
    ),
    "unknown-target-key": (
        BASE + "targets:\n  - backend: torch\n    devise: cpu\n",
        "5:5: targets[0].devise: unknown key 'devise'; did you mean 'device'? "
        "(valid: {target_keys})",
    ),
    "no-targets": (
        BASE + "targets: []\n",
        "3:10: targets: List should have at least 1 item after validation, not 0 (got [])",
    ),
    "duplicate-target": (
        BASE + "targets:\n  - torch:cpu\n  - backend: torch\n    device: cpu\n",
        "5:5: targets[1]: target 'torch:cpu' is listed twice; give one a distinct 'name'",
    ),
    "baseline-with-steps": (
        BASE + "variants:\n  baseline:\n    - quantize.dynamic_int8\n",
        "4:3: variants.baseline: 'baseline' is reserved for the unmodified model, which is "
        "always measured; give this pipeline another name",
    ),
    "empty-step-list": (
        BASE + "variants:\n  p: []\n",
        "4:6: variants.p: a variant needs at least one step (the baseline is always measured)",
    ),
    "sweep-unknown-param": (
        SWEPT + "    prune.magnitude.sparsty: [0.1]\n",
        "8:5: sweep.p.prune.magnitude.sparsty: unknown parameter of prune.magnitude 'sparsty'; "
        "did you mean 'sparsity'? (valid: {prune_params})",
    ),
    "sweep-unknown-method": (
        SWEPT + "    prune.magnitue.sparsity: [0.1]\n",
        "8:5: sweep.p.prune.magnitue.sparsity: sweep key must be '<method>.<param>' or "
        "'<step index>.<param>' of a step of variant 'p': unknown method 'prune.magnitue'; "
        "did you mean 'prune.magnitude'? (valid: prune.magnitude)",
    ),
    "sweep-bad-step-index": (
        SWEPT + "    3.sparsity: [0.1]\n",
        "8:5: sweep.p.3.sparsity: variant 'p' has no step 3",
    ),
    "sweep-ambiguous-method": (
        BASE + "variants:\n  p:\n    - prune.magnitude: {sparsity: 0.5}\n"
        "    - prune.magnitude: {sparsity: 0.6}\n"
        "sweep:\n  p:\n    prune.magnitude.sparsity: [0.1]\n",
        "9:5: sweep.p.prune.magnitude.sparsity: prune.magnitude appears 2 times in 'p': name "
        "the step by its index, e.g. '0.sparsity'",
    ),
    "sweep-unknown-variant": (
        SWEPT.replace("sweep:\n  p:", "sweep:\n  q:") + "    prune.magnitude.sparsity: [0.1]\n",
        "7:3: sweep: unknown variant 'q' (valid: p)",
    ),
    "sweep-unknown-variant-close": (
        BASE + "variants:\n  pruned: [quantize.dynamic_int8]\n  other: [quantize.dynamic_int8]\n"
        "sweep:\n  prunned: {prune.magnitude.sparsity: [0.5]}\n",
        "7:3: sweep: unknown variant 'prunned'; did you mean 'pruned'? (valid: other, pruned)",
    ),
    "sweep-empty-list": (
        SWEPT + "    prune.magnitude.sparsity: []\n",
        "8:31: sweep.p.prune.magnitude.sparsity: a sweep axis needs a non-empty list of values",
    ),
    "sweep-value-out-of-range": (  # positioned at the offending value of the sweep
        SWEPT + "    prune.magnitude.sparsity: [0.1, 1.5]\n",
        "8:37: variants.p[0] prune.magnitude.sparsity: Input should be less than 1 (got 1.5)",
    ),
    "sweep-not-a-mapping": (
        SWEPT + "    [0.1]\n",
        "8:5: sweep.p: Input should be a valid dictionary (got [0.1])",
    ),
}


@pytest.mark.parametrize(("text", "expected"), list(BROKEN.values()), ids=list(BROKEN))
def test_broken_spec_gives_one_located_helpful_error(text, expected, spec_file, registry, tmp_path):
    path = spec_file(text)
    assert single_error(path, registry) == f"{path}:{fill(expected, registry, tmp_path)}"


@pytest.mark.parametrize(
    ("text", "found"),
    [("", "an empty file"), ("# nothing\n", "an empty file"), ("- a\n", "list"), ("hi\n", "str")],
)
def test_spec_must_be_a_mapping(text, found, spec_file, registry):
    path = spec_file(text)
    assert single_error(path, registry) == f"{path}: a spec must be a mapping of keys, got {found}"


def test_spec_error_is_a_user_error_with_every_issue(spec_file, registry):
    path = spec_file(BASE + "seed: x\n")
    with pytest.raises(UserError) as caught:
        load_spec(path, registry)
    assert isinstance(caught.value, SpecError)
    assert caught.value.filename == str(path)
    (issue,) = caught.value.issues
    assert issue.path == ("seed",)
    assert (issue.position.line, issue.position.column) == (3, 7)


# -- every error of a file at once ----------------------------------------------------------------

SEVERAL_PROBLEMS = """\
name: t
model: builtin:digits-cn
seed: x
variants:
  p:
    - prune.magnitude: {sparsity: 2}
  baseline: [quantize.dynamic_int8]
targets:
  - tourch:cpu
foo: 1
"""


def test_every_error_of_a_file_is_reported_at_once_sorted_by_line(spec_file, registry):
    path = spec_file(SEVERAL_PROBLEMS)
    expected = """\
2:8: model: unknown built-in model 'digits-cn'; did you mean 'digits-cnn'? (valid: {builtin_models})
3:7: seed: seed must be an integer or a non-empty list of integers, got 'x'
6:35: variants.p[0] prune.magnitude.sparsity: Input should be less than 1 (got 2)
7:3: variants.baseline: 'baseline' is reserved for the unmodified model, which is always \
measured; give this pipeline another name
9:5: targets[0]: unknown backend 'tourch'; did you mean 'torch'? (valid: {backends})
10:1: foo: unknown key 'foo' (valid: {spec_keys})
"""
    assert errors_of(path, registry) == [
        f"{path}:{line}" for line in fill(expected, registry).splitlines()
    ]


def test_the_broken_example_reports_every_mistake(registry):
    expected = """\
10:35: variants.pruned[0] prune.magnitude.sparsity: Input should be less than 1 (got 1.5)
12:7: variants.typo[0]: unknown method 'prune.magnitud'; did you mean 'prune.magnitude'? \
(valid: {methods})
16:3: benchmark.batch_size: unknown key 'batch_size'; did you mean 'batch_sizes'? \
(valid: {benchmark_keys})
17:1: outptu: unknown key 'outptu'; did you mean 'output'? (valid: {spec_keys})
"""
    assert errors_of(BROKEN_EXAMPLE, registry) == [
        f"{BROKEN_EXAMPLE}:{line}" for line in fill(expected, registry).splitlines()
    ]


def test_every_sweep_point_error_is_reported_once(spec_file, registry):
    path = spec_file(
        SWEPT + "    prune.magnitude.sparsity: [1.5, 0.2, 2.5]\n    prune.magnitude.scope: [a, b]\n"
    )
    lines = errors_of(path, registry)
    assert len(lines) == len(set(lines))
    positions = [line.removeprefix(f"{path}:").split(": ")[0] for line in lines]
    assert positions == ["8:32", "8:42", "9:29", "9:32"]


def test_an_unknown_sweep_key_does_not_hide_the_other_keys_errors(spec_file, registry):
    # issue 12, bug 11: a typo in one key hid the bad values of every other key of the sweep
    path = spec_file(
        SWEPT + "    prune.magnitude.sparsty: [0.1]\n    prune.magnitude.sparsity: [0.2, 1.5]\n"
    )
    lines = errors_of(path, registry)
    positions = [line.removeprefix(f"{path}:").split(": ")[0] for line in lines]
    assert positions == ["8:5", "9:37"], lines
    assert "unknown parameter of prune.magnitude 'sparsty'" in lines[0]
    assert "Input should be less than 1 (got 1.5)" in lines[1]


def test_every_duplicate_key_is_reported(spec_file, registry):
    path = spec_file(BASE + "seed: 1\nseed: 2\nbenchmark:\n  min_repeats: 1\n  min_repeats: 2\n")
    assert errors_of(path, registry) == [
        f"{path}:4:1: seed: duplicate key 'seed' (first defined at line 3)",
        f"{path}:7:3: benchmark.min_repeats: duplicate key 'min_repeats' (first defined at line 6)",
    ]


# -- spec_hash ------------------------------------------------------------------------------------

HASHED = """\
# a comment
name: h
model: builtin:digits-mlp
variants:
  p:
    - prune.magnitude: {sparsity: 0.5, scope: layer}
targets: [torch:cpu]
benchmark: {batch_sizes: [1, 8], min_repeats: 5}
"""

HASHED_REORDERED = """\
benchmark:
  min_repeats: 5     # reordered, restyled, other comments
  batch_sizes:
    - 1
    - 8
targets:
  - torch:cpu
variants:
  p:
    - prune.magnitude:
        scope: layer
        sparsity: 0.5
model: builtin:digits-mlp
name: h
"""


def test_spec_hash_ignores_comments_style_and_key_order(spec_file, registry):
    first = load_spec(spec_file(HASHED, "a.yaml"), registry)
    second = load_spec(spec_file(HASHED_REORDERED, "b.yaml"), registry)
    assert first.spec_hash == second.spec_hash
    assert len(first.spec_hash) == 16
    int(first.spec_hash, 16)


def test_spec_hash_of_json_and_yaml_forms_is_equal(spec_file, registry):
    as_json = json.dumps(yaml.safe_load(HASHED))
    from_yaml = load_spec(spec_file(HASHED, "a.yaml"), registry)
    from_json = load_spec(spec_file(as_json, "a.json"), registry)
    assert from_yaml.spec_hash == from_json.spec_hash


def test_spec_hash_is_stable_across_loads(spec_file, registry):
    path = spec_file(HASHED)
    assert load_spec(path, registry).spec_hash == load_spec(path, registry).spec_hash


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("sparsity: 0.5", "sparsity: 0.6"),
        ("scope: layer", "scope: global"),
        ("min_repeats: 5", "min_repeats: 6"),
        ("name: h", "name: i"),
        ("  p:\n", "  q:\n"),
        ("[torch:cpu]", "[{backend: torch, options: {threads: 3}}]"),
    ],
)
def test_spec_hash_changes_with_the_content(old, new, spec_file, registry):
    assert old in HASHED
    first = load_spec(spec_file(HASHED, "a.yaml"), registry)
    second = load_spec(spec_file(HASHED.replace(old, new), "b.yaml"), registry)
    assert first.spec_hash != second.spec_hash


def test_spec_hash_ignores_the_file_location(tmp_path, registry):
    (tmp_path / "elsewhere").mkdir()
    copy = tmp_path / "elsewhere" / "renamed.yaml"
    shutil.copy(QUICKSTART, copy)
    assert load_spec(copy, registry).spec_hash == load_spec(QUICKSTART, registry).spec_hash


# -- JSON specs and unreadable files --------------------------------------------------------------


def test_json_spec_file_is_accepted(spec_file, registry):
    data = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))
    path = spec_file(json.dumps(data, indent=2), "quickstart.json")
    resolved = load_spec(path, registry)
    assert [v.name for v in resolved.variants] == [
        v.name for v in load_spec(QUICKSTART, registry).variants
    ]


def test_json_spec_errors_are_located(spec_file, registry):
    path = spec_file(
        '{"name": "t", "model": "builtin:digits-mlp",\n'
        ' "variants": {"p": [{"prune.magnitude": {"sparsity": 1.5}}]}}',
        "spec.json",
    )
    assert single_error(path, registry) == (
        f"{path}:2:54: variants.p[0] prune.magnitude.sparsity: Input should be less than 1 "
        "(got 1.5)"
    )


def test_nonexistent_spec_path_is_a_user_error(tmp_path, registry):
    missing = tmp_path / "missing.yaml"
    with pytest.raises(UserError, match="spec file not found") as caught:
        load_spec(missing, registry)
    assert not isinstance(caught.value, SpecError)
    assert str(missing) in str(caught.value)


def test_directory_as_spec_path_is_a_user_error(tmp_path, registry):
    with pytest.raises(UserError, match="cannot read spec file"):
        load_spec(tmp_path, registry)


def test_non_utf8_spec_is_located_at_its_first_bad_byte(tmp_path, registry):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    with pytest.raises(SpecError) as caught:
        load_spec(path, registry)
    assert str(caught.value) == (
        f"{path}:1:10: byte 0xe9 is not UTF-8 (invalid continuation byte); a spec must be UTF-8 "
        "text: save it as UTF-8"
    )


def _resolving_calls(text: str, registry, tmp_path) -> int:
    """Python function calls made resolving ``text`` (after parsing it): a work count."""
    import cProfile
    import pstats

    from squeezebench.spec.resolve import Resolver
    from squeezebench.spec.yaml_loader import load_located

    document = load_located(text, "spec.yaml")
    resolver = Resolver(registry, document, tmp_path)
    profile = cProfile.Profile()
    profile.enable()
    resolver.resolve_variants(document.data.get("variants"), None)
    resolver.resolve_targets(document.data.get("targets", []))
    profile.disable()
    return pstats.Stats(profile).total_calls


@pytest.mark.parametrize(
    "line",
    [
        "variants:\n  v{i}: [quantize.dynamic_int9]\n",  # an unknown method in every variant
        "variants:\n  v{i}: [{{prune.magnitude: {{sparsity: 2}}}}]\n",  # a bad param in each
        "variants:\n  v{i}: [{{prune.magnitude: {{sparsity: 0.5}}}}]\n",
        "targets:\n  - torch:cpu\n",  # the same target over and over
        "targets:\n  - {{backend: torch, name: t{i}, options: {{threat: 1}}}}\n",
    ],
)
def test_resolving_work_grows_linearly_with_the_spec_and_its_issues(tmp_path, registry, line):
    head, item = line.split("\n", 1)
    counts = [
        _resolving_calls(
            f"{head}\n" + "".join(item.format(i=i) for i in range(size)), registry, tmp_path
        )
        for size in (100, 400)
    ]
    assert counts[1] < 4.4 * counts[0], counts  # quadratic work would give up to 16x


# -- robustness: inputs that once crashed or misled the loader -------------------------------------


def test_unknown_sweep_variant_next_to_a_non_string_variant_name(spec_file, registry):
    path = spec_file(
        BASE + "variants:\n  1: [quantize.dynamic_int8]\n  p: [quantize.dynamic_int8]\n"
        "sweep:\n  q: {prune.magnitude.sparsity: [0.5]}\n"
    )
    lines = errors_of(path, registry)
    assert any("variants" in line and "valid string" in line for line in lines)
    assert f"{path}:7:3: sweep: unknown variant 'q'" in "\n".join(lines)


@pytest.mark.parametrize("reference", ["file:" + "a" * 300, '"file:a\\0b"'])
def test_unusable_model_file_path_is_a_spec_error(reference, spec_file, registry):
    path = spec_file(f"name: t\nmodel: {reference}\n")
    assert single_error(path, registry).startswith(f"{path}:2:8: model: ")


def test_bad_short_target_message_is_not_redundant(spec_file, registry):
    path = spec_file(BASE + "targets:\n  - torch\n")
    line = single_error(path, registry)
    assert line.startswith(f"{path}:4:5: targets[0]: expected 'backend:device'")
    assert "Value error" not in line
    assert line.count("got 'torch'") == 1


def test_sweep_axis_that_is_not_a_list_is_reported_once(spec_file, registry):
    path = spec_file(SWEPT + "    prune.magnitude.sparsity: 0.3\n")
    assert single_error(path, registry).startswith(f"{path}:8:31: sweep.p.prune.magnitude.sparsity")


def test_json_escaped_astral_characters_load_as_themselves(spec_file, registry):
    path = spec_file('{"name": "bench \\ud83d\\ude00", "model": "builtin:digits-mlp"}', "s.json")
    assert load_spec(path, registry).spec.name == "bench \U0001f600"


@pytest.mark.parametrize("key", ["\\ud800", "\\ud83d\\ude00"])
def test_spec_hash_of_an_accepted_spec_never_raises(key, spec_file, registry):
    path = spec_file(
        BASE + f'variants:\n  p:\n    - prune.magnitude: {{sparsity: {{"{key}": 1}}}}\n'
        "sweep:\n  p:\n    prune.magnitude.sparsity: [0.5]\n"
    )
    try:
        resolved = load_spec(path, registry)
    except SpecError:
        return  # rejecting the lone surrogate with a located issue is fine too
    assert len(resolved.spec_hash) == 16


def test_variant_names_are_unique_after_sweep_expansion(spec_file, registry):
    path = spec_file(
        BASE + "variants:\n  p:\n    - prune.magnitude: {sparsity: 0.5}\n"
        "  p[sparsity=0.7]:\n    - quantize.dynamic_int8\n"
        "sweep:\n  p:\n    prune.magnitude.sparsity: [0.5, 0.7]\n"
    )
    try:
        names = [v.name for v in load_spec(path, registry).variants]
    except SpecError as error:
        assert "p[sparsity=0.7]" in str(error)
        return
    assert len(names) == len(set(names)), names


def test_a_variant_named_like_a_sweep_point_is_reported_at_its_name(spec_file, registry):
    path = spec_file(
        BASE + "variants:\n  p[sparsity=0.7]:\n    - quantize.dynamic_int8\n"
        "  p:\n    - prune.magnitude: {sparsity: 0.5}\n"
        "sweep:\n  p:\n    prune.magnitude.sparsity: [0.5, 0.7]\n"
    )
    assert single_error(path, registry) == (
        f"{path}:4:3: variants.p[sparsity=0.7]: variant 'p[sparsity=0.7]' has the name of a "
        "point of the sweep of 'p'; rename it"
    )


def test_duplicate_sweep_values_are_reported(spec_file, registry):
    path = spec_file(SWEPT + "    prune.magnitude.sparsity: [0, 0.5, 0.0, '0.5', 0.5]\n")
    assert errors_of(path, registry) == [
        f"{path}:8:40: sweep.p.prune.magnitude.sparsity[2]: duplicate sweep value 0.0: "
        "item 0 (0) gives the same variant",
        f"{path}:8:45: sweep.p.prune.magnitude.sparsity[3]: duplicate sweep value '0.5': "
        "item 1 (0.5) gives the same variant",
        f"{path}:8:52: sweep.p.prune.magnitude.sparsity[4]: duplicate sweep value 0.5: "
        "item 1 (0.5) gives the same variant",
    ]


def test_duplicate_sweep_values_of_one_axis_are_reported_once(spec_file, registry):
    path = spec_file(
        SWEPT
        + "    prune.magnitude.sparsity: [0.1, 0.1]\n    prune.magnitude.scope: [global, layer]\n"
    )
    assert single_error(path, registry).startswith(
        f"{path}:8:37: sweep.p.prune.magnitude.sparsity[1]: duplicate sweep value 0.1"
    )


def test_one_parameter_swept_by_two_keys_is_reported(spec_file, registry):
    path = spec_file(SWEPT + "    prune.magnitude.sparsity: [0.1, 0.2]\n    0.sparsity: [0.3]\n")
    assert single_error(path, registry) == (
        f"{path}:9:5: sweep.p.0.sparsity: sweeps the same parameter as 'prune.magnitude.sparsity'"
    )


def test_sweeping_the_baseline_is_reported(spec_file, registry):
    path = spec_file(
        BASE + "variants:\n  baseline: []\nsweep:\n  baseline: {prune.magnitude.sparsity: [0.5]}\n"
    )
    assert single_error(path, registry) == (
        f"{path}:6:3: sweep.baseline: the baseline has no steps to sweep"
    )


def test_names_that_are_not_strings_are_reported_at_the_key(spec_file, registry):
    path = spec_file(
        BASE + "variants:\n  1: [quantize.dynamic_int8]\n  p: [prune.magnitude]\n"
        "sweep:\n  p: {2: [0.5]}\ntargets:\n  - {backend: torch, options: {3: 1}}\n"
    )
    assert errors_of(path, registry) == [
        f"{path}:4:3: variants: key 1 should be a valid string; quote it",
        f"{path}:7:7: sweep.p: key 2 should be a valid string; quote it",
        f"{path}:9:32: targets[0].options: key 3 should be a valid string; quote it",
    ]


def test_numbered_sweep_names_are_reported_as_keys_not_as_unknown_variants(spec_file, registry):
    path = spec_file(
        BASE + "variants:\n  '10': [quantize.dynamic_int8]\nsweep:\n  1: {x: [1]}\n  11: {x: [1]}\n"
    )
    lines = errors_of(path, registry)
    assert all("unknown variant" not in line for line in lines)  # keys reported instead
    assert len(lines) == 2


def test_a_key_with_a_line_break_keeps_the_error_on_one_line(spec_file, registry):
    path = spec_file(BASE + 'benchmark:\n  "min\\nrepeats": 1\n')
    line = single_error(path, registry)
    assert line.startswith(f"{path}:4:3: benchmark.min repeats: unknown key 'min\\nrepeats'")


def test_astral_characters_in_json_keep_the_hash_of_the_yaml_form(spec_file, registry):
    data = {"name": "bench \U0001f600", "model": "builtin:digits-mlp"}
    from_json = load_spec(spec_file(json.dumps(data), "a.json"), registry)
    from_yaml = load_spec(spec_file(yaml.safe_dump(data, allow_unicode=True), "b.yaml"), registry)
    assert from_json.spec_hash == from_yaml.spec_hash
