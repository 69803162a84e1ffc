"""Property tests: whatever the file holds, ``load_spec`` succeeds or raises ``UserError``.

Any other exception escaping ``load_spec`` is a bug (the CLI would show a traceback). Models
are never loaded while a spec is validated: the model sources' ``load`` and the digits
training are replaced by functions that fail the property if they are ever called.

``SQUEEZEBENCH_FUZZ_EXAMPLES`` raises the number of examples for a longer local hunt.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from squeezebench.errors import UserError
from squeezebench.plugins.builtin.models import (
    builtin_source,
    digits_models,
    file_source,
    python_source,
)
from squeezebench.spec import SpecError, load_spec
from squeezebench.spec.yaml_loader import load_located

from .conftest import QUICKSTART

EXAMPLES = int(os.environ.get("SQUEEZEBENCH_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

QUICKSTART_DATA: dict[str, Any] = yaml.safe_load(QUICKSTART.read_text(encoding="utf-8"))

# Words a spec is made of, so that random text often gets past the YAML parser.
VOCABULARY = [
    "name", "seed", "model", "dataset", "variants", "sweep", "targets", "benchmark", "output",
    "baseline", "pruned", "int8", "prune.magnitude", "quantize.dynamic_int8", "sparsity",
    "scope", "global", "layer", "prune.magnitude.sparsity", "0.sparsity", "backend", "device",
    "options", "threads", "torch", "cpu", "cuda", "torch:cpu", "torch:cuda:0", "batch_sizes",
    "min_repeats", "warmup_seconds", "noise_threshold", "dir", "builtin:digits-mlp",
    "builtin:digits-cnn", "builtin:digits", "builtin:nope", "file:nope.pt2", "file:",
    "python:os:getcwd", "python:nope_module_xyz:f", "python:", "nope:x", "0", "1", "-1", "0.5",
    "1.5", "1e3", ".inf", ".nan", "~", "null", "true", "no", "on", "'quoted'", '"dq"',
]  # fmt: skip
PUNCTUATION = [": ", ":", "- ", "-", " ", "  ", "\n", "\n  ", "\n    ", "[", "]", "{", "}", ", "]
PUNCTUATION += ["#", "'", '"', "|", ">", "? ", "*a", "---", "...", "\r\n", "\t", "\\", "%", "@"]
# Pieces that reach the harder paths of the loader: tags, anchors (with aliases: recursion),
# merge keys, complex keys, surrogate escapes and non-printable characters.
TRICKY_PIECES = ["!", "!!int x", "!x ", "&a ", "&a [*a]", "<<: ", "<<: 1", "? {[a]: 1}", "\x07"]
TRICKY_PIECES += ["!!binary ", "!!timestamp ", "2001-02-30", '"\\ud83d\\ude00"', '"\\ud800"']

CHARACTERS = st.characters(blacklist_categories=("Cs",))  # text files cannot hold surrogates
# Printable characters only: PyYAML rejects the others (as invalid YAML).
PRINTABLE = st.characters(blacklist_categories=("Cs", "Cc")) | st.sampled_from("\t\n\r\x85")


def yamlish(extra_pieces: Sequence[str] = (), characters=PRINTABLE) -> st.SearchStrategy[str]:
    piece = st.one_of(
        st.sampled_from(VOCABULARY),
        st.sampled_from(PUNCTUATION + list(extra_pieces)),
        st.text(characters, max_size=4),
    )
    return st.lists(piece, max_size=40).map("".join)


JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(VOCABULARY),
    st.text(CHARACTERS, max_size=12),
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(VOCABULARY) | st.text(max_size=8), children, max_size=4),
    ),
    max_leaves=12,
)
KEYS = st.sampled_from(VOCABULARY) | st.text(CHARACTERS, max_size=10)


@pytest.fixture(scope="module", autouse=True)
def models_are_never_loaded(tmp_path_factory):
    """Fail loudly (not with a UserError) if validating a spec loads or trains a model."""

    def forbidden(*args, **kwargs):
        raise AssertionError("load_spec must only validate: it loaded or trained a model")

    with pytest.MonkeyPatch.context() as patch:
        for source in (
            builtin_source.BuiltinModels,
            file_source.ModelFile,
            python_source.PythonFactory,
        ):
            patch.setattr(source, "load", forbidden)
        patch.setattr(digits_models, "trained_model", forbidden)
        patch.setattr(digits_models, "train", forbidden)
        patch.setenv("SQUEEZEBENCH_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
        yield


@pytest.fixture(scope="module")
def spec_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def check_load(path: Path, text: str, registry) -> None:
    """The property: load_spec succeeds or raises UserError, and either outcome is sound."""
    path.write_text(text, encoding="utf-8")
    try:
        resolved = load_spec(path, registry)
    except SpecError as error:
        count = len(error.issues)
        event(f"SpecError, {count if count < 3 else '3 or more'} issue(s)")
        assert error.issues
        assert str(error)
        lines = max(len(text.splitlines()), 1) + 1
        positions = [i.position for i in error.issues if i.position is not None]
        for position in positions:
            assert 1 <= position.line <= lines, (position, error.render())
            assert position.column >= 1, (position, error.render())
        keys = [(p.line, p.column) for p in positions]
        assert keys == sorted(keys)
        return
    except UserError as error:
        event("UserError")
        assert str(error)
        return
    count = len(resolved.variants)
    event(f"loaded, {count if count < 3 else '3 or more'} variant(s)")
    names = [variant.name for variant in resolved.variants]
    assert names[0] == "baseline"
    assert resolved.variants[0].steps == ()
    assert len(names) == len(set(names))
    assert all(variant.steps for variant in resolved.variants[1:])
    assert resolved.targets
    assert len({target.label for target in resolved.targets}) == len(resolved.targets)
    assert len(resolved.spec_hash) == 16


# -- random YAML-ish text -------------------------------------------------------------------------


@FUZZ
@given(text=yamlish())
@example(text="")
@example(text="\u2028\x85name: t\r\nmodel: builtin:digits-mlp\n")
@example(text="name: t\nmodel: builtin:digits-mlp\n")
@example(text="name: t\nmodel: builtin:digits-mlp\nvariants: {p: [prune.magnitude]}\n")
@example(text="name: t\nmodel: [x\n")
@example(text="a: 1\na: 2\n")
@example(text="- 1\n")
def test_random_yamlish_text(text, spec_dir, registry):
    check_load(spec_dir / "random.yaml", text, registry)


@FUZZ
@given(text=yamlish(TRICKY_PIECES, CHARACTERS))
@example(text="name: t\x07\n")
@example(text="seed: !!int abc\n")
@example(text="a: &a [*a]\n")
@example(text="b:\n  <<: 1\n")
@example(text="? ? - \n")
def test_random_yamlish_text_with_tags_anchors_and_control_characters(text, spec_dir, registry):
    check_load(spec_dir / "random-full.yaml", text, registry)


@FUZZ
@given(text=yamlish([*TRICKY_PIECES, "&b {x: 1, y: 2}", "*b", "<<: *b", "<<: [*a, *b]"]))
def test_loaded_data_is_what_pyyaml_loads(text):
    """Where both accept the text, the located loader gives PyYAML's data, in its order."""
    try:
        data = load_located(text, "random.yaml").data
    except SpecError:
        event("rejected")
        return
    try:
        expected = yaml.safe_load(text)
    except yaml.YAMLError:
        event("rejected by PyYAML only")  # e.g. a plain '=', read as a string here
        return
    if "\\u" not in text:  # PyYAML leaves the halves of surrogate pairs apart
        event("compared")
        assert repr(data) == repr(expected)


# -- mutations of the quickstart ------------------------------------------------------------------


def all_paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Paths to every node below the root."""
    paths = []
    children = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in children:
        paths.append((*prefix, key))
        paths.extend(all_paths(child, (*prefix, key)))
    return paths


def parent_of(document: Any, path: tuple) -> Any:
    for part in path[:-1]:
        document = document[part]
    return document


def mutate(data: st.DataObject, document: dict) -> dict:
    """One random edit: delete a node, rename a key, replace a value, or duplicate an item."""
    document = copy.deepcopy(document)
    paths = all_paths(document)
    if not paths:
        return document
    path = data.draw(st.sampled_from(paths), label="path")
    parent = parent_of(document, path)
    key = path[-1]
    operation = data.draw(st.sampled_from(["delete", "rename", "replace", "duplicate"]))
    if operation == "delete":
        del parent[key]
    elif operation == "rename" and isinstance(parent, dict):
        new_key = data.draw(KEYS, label="new key")
        value = parent.pop(key)
        parent[new_key] = value
    elif operation == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[key] = data.draw(JSON_VALUES, label="new value")
    return document


@FUZZ
@given(data=st.data())
@example(data=None)  # the unmutated quickstart
def test_mutated_quickstart(data, spec_dir, registry):
    document = QUICKSTART_DATA
    as_json = False
    if data is not None:
        for _ in range(data.draw(st.integers(1, 4), label="edits")):
            document = mutate(data, document)
        as_json = data.draw(st.booleans(), label="as JSON")
    if as_json:
        # With ensure_ascii, characters beyond the BMP are written as surrogate-pair escapes.
        ascii_only = data.draw(st.booleans(), label="ensure_ascii")
        text = json.dumps(document, indent=1, ensure_ascii=ascii_only)
        check_load(spec_dir / "mutated.json", text, registry)
    else:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        check_load(spec_dir / "mutated.yaml", text, registry)


@FUZZ
@given(
    values=st.dictionaries(
        st.sampled_from(["name", "seed", "model", "dataset", "variants", "sweep", "targets"]),
        JSON_VALUES,
    )
)
def test_random_top_level_values(values, spec_dir, registry):
    check_load(spec_dir / "top.yaml", yaml.safe_dump(values, allow_unicode=True), registry)


def test_the_dumped_quickstart_loads_like_the_original(spec_dir, registry):
    path = spec_dir / "plain.yaml"
    path.write_text(yaml.safe_dump(QUICKSTART_DATA, sort_keys=False), encoding="utf-8")
    assert load_spec(path, registry).spec_hash == load_spec(QUICKSTART, registry).spec_hash


# -- specs composed of (mostly) meaningful parts --------------------------------------------------

SPARSITY = st.one_of(
    st.floats(0, 0.99),
    st.floats(-0.5, 1.5),
    st.sampled_from([0, 0.5, 0.99, 1, "0.5", None, "x", [0.5]]),
)
PRUNE_STEP = st.fixed_dictionaries(
    {"sparsity": SPARSITY},
    optional={"scope": st.sampled_from(["global", "layer", "glob"])},
).map(lambda params: {"prune.magnitude": params})
STEP = st.one_of(
    PRUNE_STEP,
    st.sampled_from(
        [
            "quantize.dynamic_int8",
            {"quantize.dynamic_int8": None},
            {"quantize.dynamic_int8": {}},
            "prune.magnitude",
            "nope.method",
            {"prune.magnitude": {"sparsity": 0.5, "bogus": 1}},
            {"prune.magnitude": {"sparsity": 0.5}, "quantize.dynamic_int8": None},
        ]
    ),
)
# "p[sparsity=0.5]" may collide with a point of the sweep of "p".
VARIANT_NAMES = st.sampled_from(["a", "p", "int8", "baseline", "pruned-int8", "p[sparsity=0.5]"])
SWEEP_KEYS = st.sampled_from(
    [
        "prune.magnitude.sparsity",
        "prune.magnitude.scope",
        "prune.magnitude.nope",
        "0.sparsity",
        "1.sparsity",
        "quantize.dynamic_int8.x",
        "sparsity",
    ]
)
SWEEP_VALUES = st.lists(SPARSITY | st.sampled_from(["global", "layer"]), max_size=3) | SPARSITY
TARGET = st.sampled_from(
    ["torch:cpu", "torch:cuda", "torch:cuda:1", "torch:tpu", "onnx:cpu", "torch", 3]
) | st.fixed_dictionaries(
    {"backend": st.sampled_from(["torch", "tourch"])},
    optional={
        "device": st.sampled_from(["cpu", "cuda:0", "gpu"]),
        "name": st.sampled_from(["x", "y", "torch:cpu"]),
        "options": st.fixed_dictionaries({}, optional={"threads": st.integers(-1, 4)}),
    },
)
COMPOSED_SPECS = st.fixed_dictionaries(
    {
        "name": st.just("fuzz"),
        "model": st.sampled_from(["builtin:digits-mlp"] * 6 + ["builtin:nope", "file:nope.pt2"]),
        "variants": st.dictionaries(
            VARIANT_NAMES, st.lists(STEP, min_size=1, max_size=3) | st.just([]), max_size=3
        ),
    },
    optional={
        "dataset": st.sampled_from(["builtin:digits", "digits", "builtin:nope"]),
        "benchmark": st.fixed_dictionaries(
            {}, optional={"batch_sizes": st.lists(st.integers(0, 4))}
        ),
        "seed": st.integers(-3, 3),
        "sweep": st.dictionaries(
            VARIANT_NAMES, st.dictionaries(SWEEP_KEYS, SWEEP_VALUES, max_size=2), max_size=2
        ),
        "targets": st.lists(TARGET, max_size=3),
    },
)


@FUZZ
@given(spec=COMPOSED_SPECS)
def test_composed_specs(spec, spec_dir, registry):
    check_load(spec_dir / "composed.yaml", yaml.safe_dump(spec, sort_keys=False), registry)
