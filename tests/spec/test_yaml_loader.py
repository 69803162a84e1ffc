"""The located YAML loader: data, 1-based positions of values and keys, and its errors."""

from __future__ import annotations

import json

import pytest
import yaml

from squeezebench.errors import UserError
from squeezebench.spec.issues import Position, SpecError
from squeezebench.spec.yaml_loader import LocatedDocument, load_located

NESTED = """\
name: demo
variants:
  pruned:
    - prune.magnitude: {sparsity: 0.5, scope: global}
    - quantize.dynamic_int8
targets:
  - backend: torch
    options:
      threads: 2
"""


def at(line: int, column: int) -> Position:
    return Position(line, column)


def single_issue(error: SpecError):
    assert len(error.issues) == 1, error.render()
    return error.issues[0]


# -- data and positions ---------------------------------------------------------------------------


def test_builds_plain_python_data():
    document = load_located(NESTED, "spec.yaml")
    assert document.data == yaml.safe_load(NESTED)


def test_value_positions_of_nested_mappings_and_lists():
    values = load_located(NESTED, "spec.yaml").values
    assert values[()] == at(1, 1)
    assert values[("name",)] == at(1, 7)
    assert values[("variants",)] == at(3, 3)  # a block mapping starts at its first key
    assert values[("variants", "pruned")] == at(4, 5)  # a block sequence starts at its dash
    assert values[("variants", "pruned", 0)] == at(4, 7)  # an item starts after "- "
    assert values[("variants", "pruned", 0, "prune.magnitude")] == at(4, 24)
    assert values[("variants", "pruned", 0, "prune.magnitude", "sparsity")] == at(4, 35)
    assert values[("variants", "pruned", 0, "prune.magnitude", "scope")] == at(4, 47)
    assert values[("variants", "pruned", 1)] == at(5, 7)
    assert values[("targets", 0, "backend")] == at(7, 14)
    assert values[("targets", 0, "options", "threads")] == at(9, 16)


def test_key_positions_of_nested_mappings():
    keys = load_located(NESTED, "spec.yaml").keys
    assert keys[("name",)] == at(1, 1)
    assert keys[("variants",)] == at(2, 1)
    assert keys[("variants", "pruned")] == at(3, 3)
    assert keys[("variants", "pruned", 0, "prune.magnitude")] == at(4, 7)
    assert keys[("variants", "pruned", 0, "prune.magnitude", "sparsity")] == at(4, 25)
    assert keys[("variants", "pruned", 0, "prune.magnitude", "scope")] == at(4, 40)
    assert keys[("targets", 0, "backend")] == at(7, 5)
    assert keys[("targets", 0, "options", "threads")] == at(9, 7)
    # List items have no key.
    assert ("variants", "pruned", 0) not in keys


def test_every_value_and_key_of_the_data_has_a_position():
    document = load_located(NESTED, "spec.yaml")

    def paths(node, prefix=()):
        yield prefix
        if isinstance(node, dict):
            for key, value in node.items():
                yield from paths(value, (*prefix, key))
        elif isinstance(node, list):
            for index, value in enumerate(node):
                yield from paths(value, (*prefix, index))

    all_paths = set(paths(document.data))
    assert set(document.values) == all_paths
    assert set(document.keys) == {p for p in all_paths if p and isinstance(p[-1], str)}


def test_positions_of_flow_collections():
    document = load_located("a: [1, {b: 2}]\n", "spec.yaml")
    assert document.values[("a",)] == at(1, 4)
    assert document.values[("a", 0)] == at(1, 5)
    assert document.values[("a", 1)] == at(1, 8)
    assert document.keys[("a", 1, "b")] == at(1, 9)
    assert document.values[("a", 1, "b")] == at(1, 12)


def test_position_of_a_block_scalar_is_its_indicator():
    document = load_located("a: |\n  x\n  y\nb: 1\n", "spec.yaml")
    assert document.data == {"a": "x\ny\n", "b": 1}
    assert document.values[("a",)] == at(1, 4)
    assert document.keys[("b",)] == at(4, 1)


def test_columns_count_characters_not_bytes():
    document = load_located("name: 'é€'\nseed: 1\n", "spec.yaml")
    assert document.data == {"name": "é€", "seed": 1}
    assert document.values[("seed",)] == at(2, 7)
    document = load_located("a: {é: 1, b: 2}\n", "spec.yaml")
    assert document.keys[("a", "b")] == at(1, 11)


def test_position_falls_back_to_the_nearest_parent():
    document = load_located(NESTED, "spec.yaml")
    assert document.position(("targets", 0, "options", "missing")) == at(9, 7)
    assert document.position(("targets", 5)) == at(7, 3)
    assert document.position(("nope", "deeper")) == at(1, 1)


def test_position_of_a_key_or_else_of_the_value():
    document = load_located(NESTED, "spec.yaml")
    assert document.position(("name",), key=True) == at(1, 1)
    assert document.position(("name",)) == at(1, 7)
    # A list item has no key: its value's position is used.
    assert document.position(("variants", "pruned", 1), key=True) == at(5, 7)


def test_position_of_an_empty_document_is_none():
    assert LocatedDocument(data=None).position(("a",)) is None


def test_merge_keys_are_resolved():
    text = "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  z: 3\n"
    document = load_located(text, "spec.yaml")
    assert document.data["derived"] == {"x": 1, "y": 2, "z": 3}
    assert document.keys[("derived", "z")] == at(4, 3)


def test_anchors_and_aliases_give_equal_data():
    document = load_located("a: &x [1, 2]\nb: *x\n", "spec.yaml")
    assert document.data == {"a": [1, 2], "b": [1, 2]}


# -- duplicate keys -------------------------------------------------------------------------------


def test_duplicate_top_level_key_is_reported_with_both_lines():
    with pytest.raises(SpecError) as caught:
        load_located("name: a\nseed: 1\nname: b\n", "spec.yaml")
    issue = single_issue(caught.value)
    assert issue.position == at(3, 1)
    assert issue.path == ("name",)
    assert (
        str(caught.value) == "spec.yaml:3:1: name: duplicate key 'name' (first defined at line 1)"
    )


def test_duplicate_nested_key_is_reported_with_its_path():
    with pytest.raises(SpecError) as caught:
        load_located("a:\n  b: 1\n  c: 2\n  b: 3\n", "spec.yaml")
    assert str(caught.value) == "spec.yaml:4:3: a.b: duplicate key 'b' (first defined at line 2)"


def test_duplicate_key_in_a_flow_mapping_inside_a_list():
    with pytest.raises(SpecError) as caught:
        load_located("v:\n  - {sparsity: 0.1,\n     sparsity: 0.2}\n", "spec.yaml")
    assert str(caught.value) == (
        "spec.yaml:3:6: v[0].sparsity: duplicate key 'sparsity' (first defined at line 2)"
    )


def test_every_duplicate_key_is_reported_in_file_order():
    with pytest.raises(SpecError) as caught:
        load_located("b:\n  x: 1\n  x: 2\na: 1\na: 2\n", "spec.yaml")
    assert [issue.position for issue in caught.value.issues] == [at(3, 3), at(5, 1)]
    assert len(str(caught.value).splitlines()) == 2


def test_duplicate_key_error_is_a_user_error():
    with pytest.raises(UserError):
        load_located("a: 1\na: 1\n", "spec.yaml")


def test_non_scalar_keys_are_rejected():
    with pytest.raises(SpecError) as caught:
        load_located("? [a, b]\n: x\n", "spec.yaml")
    issue = single_issue(caught.value)
    assert issue.position == at(1, 3)
    assert "mapping keys must be plain scalars" in issue.message


# -- invalid YAML ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "words"),
    [
        ("name: t\n  model: x\n", at(2, 8), "mapping values are not allowed here"),
        ("a: [1\nb: 2\n", at(2, 2), "expected ',' or ']'"),
        ("a: 'x\n", at(2, 1), "while scanning a quoted scalar"),
        ("a:\tb\n", at(1, 3), "a tab here"),
        ("@a\n", at(1, 1), "found character '@'"),
        ("a: *nowhere\n", at(1, 4), "found undefined alias 'nowhere'"),
        ("a: 1\n---\nb: 2\n", at(2, 1), "expected a single document"),
    ],
)
def test_invalid_yaml_gives_a_positioned_spec_error(text, position, words):
    with pytest.raises(SpecError) as caught:
        load_located(text, "bad.yaml")
    issue = single_issue(caught.value)
    assert issue.position == position
    assert issue.message.startswith("invalid YAML: ")
    assert words in issue.message
    rendered = str(caught.value)
    assert rendered.startswith(f"bad.yaml:{position.line}:{position.column}: invalid YAML: ")
    assert "\n" not in rendered


# -- JSON and empty documents ---------------------------------------------------------------------


def test_json_text_loads_the_same_as_yaml():
    as_json = json.dumps(yaml.safe_load(NESTED), indent=2)
    from_json = load_located(as_json, "spec.json")
    from_yaml = load_located(NESTED, "spec.yaml")
    assert from_json.data == from_yaml.data
    assert set(from_json.values) == set(from_yaml.values)
    assert set(from_json.keys) == set(from_yaml.keys)


def test_json_positions():
    document = load_located('{"a": {"b": [1, 2]},\n "c": null}', "spec.json")
    assert document.data == {"a": {"b": [1, 2]}, "c": None}
    assert document.keys[("a",)] == at(1, 2)
    assert document.values[("a", "b", 1)] == at(1, 17)
    assert document.keys[("c",)] == at(2, 2)
    assert document.values[("c",)] == at(2, 7)


def test_json_duplicate_keys_are_reported():
    with pytest.raises(SpecError) as caught:
        load_located('{"a": 1,\n "a": 2}', "spec.json")
    assert str(caught.value) == "spec.json:2:2: a: duplicate key 'a' (first defined at line 1)"


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "---\n...\n"])
def test_empty_document(text):
    document = load_located(text, "spec.yaml")
    assert document.data is None
    assert document.keys == {}


# -- hostile or unusual YAML: always a located SpecError, never a crash ----------------------------


@pytest.mark.parametrize("text", ["name: t\x07\n", "name: t\x00\n", "a: 1\n\x1b[31m\n"])
def test_control_characters_give_a_spec_error(text):
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.yaml")
    assert "invalid YAML" in str(caught.value)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("seed: !!python/object:os.system x\n", at(1, 7)),
        ("seed: !custom 1\n", at(1, 7)),
        ("seed: !!binary 'a'\n", at(1, 7)),
        ("seed: !!seq abc\n", at(1, 7)),
        ("seed: !!int abc\n", at(1, 7)),
        ("seed: !!float abc\n", at(1, 7)),
        ("seed: !!bool maybe\n", at(1, 7)),
        ("seed: !!timestamp abc\n", at(1, 7)),
        ("benchmark:\n  <<: 1\n", at(2, 7)),
        ("? {[a]: 1}\n: x\n", at(1, 4)),  # unhashable key inside a complex key
    ],
)
def test_bad_tags_and_merges_give_a_positioned_spec_error(text, position):
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.yaml")
    assert caught.value.issues[0].position == position


@pytest.mark.parametrize("text", ["a: &x [*x]\n", "a: &x\n  b: *x\n"])
def test_recursive_alias_gives_a_spec_error(text):
    with pytest.raises(SpecError):
        load_located(text, "spec.yaml")


def test_deep_nesting_gives_a_spec_error():
    with pytest.raises(SpecError):
        load_located("a: " + "[" * 1000 + "]" * 1000 + "\n", "spec.yaml")


def test_explicit_key_overrides_a_merged_key():
    text = "base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n"
    document = load_located(text, "spec.yaml")
    assert document.data["derived"] == {"x": 1, "y": 3}
    assert document.values[("derived", "y")] == at(4, 6)


def test_position_of_an_alias_is_where_it_is_used():
    document = load_located("name: &n quickstart\nseed: *n\n", "spec.yaml")
    assert document.values[("seed",)] == at(2, 7)


@pytest.mark.parametrize(
    ("text", "position"),
    [("name: t\x07\n", at(1, 8)), ("a: 1\r\nb: \x00\n", at(2, 4)), ("a: 1\n\x1b\n", at(2, 1))],
)
def test_control_characters_are_positioned(text, position):
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.yaml")
    issue = single_issue(caught.value)
    assert issue.position == position
    assert "unacceptable character" in issue.message


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("seed: !custom 1\n", "unsupported YAML tag '!custom'"),
        ("seed: !!binary 'aGk='\n", "unsupported YAML tag '!!binary'"),
        ("seed: !!python/object:os.system x\n", "unsupported YAML tag '!!python/object:os.system'"),
        ("seed: !custom [1]\n", "unsupported YAML tag '!custom'"),
        ("seed: !!set {a, b}\n", "unsupported YAML tag '!!set'"),
        ("seed: !!int abc\n", "invalid value: 'abc' is not a valid int"),
        ("seed: !!int ''\n", "invalid value: '' is not a valid int"),
        ("seed: 2001-02-30\n", "invalid value: '2001-02-30' is not a valid timestamp"),
        ("seed: <<\n", "'<<' is a merge key; quote it"),
    ],
)
def test_bad_tags_and_values_are_explained(text, words):
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.yaml")
    issue = single_issue(caught.value)
    assert issue.position == at(1, 7)
    assert issue.path == ("seed",)
    assert words in issue.message


def test_a_value_key_is_a_plain_string():
    assert load_located("a: =\n=: 1\n", "spec.yaml").data == {"a": "=", "=": 1}


def test_a_recursive_alias_is_reported_at_the_alias():
    with pytest.raises(SpecError) as caught:
        load_located("a: &x [1, *x]\n", "spec.yaml")
    assert str(caught.value) == (
        "spec.yaml:1:11: a[1]: recursive alias: an anchor is used inside itself"
    )


def test_a_recursive_merge_is_reported():
    with pytest.raises(SpecError) as caught:
        load_located("a: &x\n  b: 1\n  <<: *x\n", "spec.yaml")
    assert "recursive alias" in single_issue(caught.value).message


def test_nesting_is_bounded_also_through_aliases():
    levels = [f"l0: &l0 {'[' * 60}{']' * 60}"]
    levels += [f"l{i}: &l{i} {'[' * 60}*l{i - 1}{']' * 60}" for i in range(1, 4)]
    with pytest.raises(SpecError) as caught:
        load_located("\n".join(levels) + "\n", "spec.yaml")
    assert "nesting too deep" in single_issue(caught.value).message


def test_an_alias_bomb_is_stopped():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(SpecError) as caught:
        load_located("\n".join(lines) + "\n", "spec.yaml")
    assert "more than 100000 values" in single_issue(caught.value).message


def test_merge_key_lists_take_the_first_mapping_and_own_keys_win():
    text = "b1: &b1 {x: 1, y: 1}\nb2: &b2 {y: 2, z: 2, w: 2}\nd:\n  <<: [*b1, *b2]\n  z: 3\n"
    document = load_located(text, "spec.yaml")
    assert document.data["d"] == {"x": 1, "y": 1, "z": 3, "w": 2}
    # the same mapping as PyYAML's (its key order after a merge changed in PyYAML 6.0.4)
    assert document.data["d"] == yaml.safe_load(text)["d"]
    assert document.keys[("d", "x")] == at(1, 10)  # merged keys are where they are written
    assert document.keys[("d", "z")] == at(5, 3)


def test_duplicates_inside_a_merged_mapping_are_reported_once_where_they_are():
    with pytest.raises(SpecError) as caught:
        load_located("x: &x {a: 1, a: 2}\ny: {<<: *x}\nz: {<<: [*x, *x]}\n", "spec.yaml")
    assert str(caught.value) == "spec.yaml:1:14: x.a: duplicate key 'a' (first defined at line 1)"


def test_children_of_an_alias_keep_the_positions_of_the_anchor():
    document = load_located("a: &x [1, 2]\nb: *x\n", "spec.yaml")
    assert document.values[("b",)] == at(2, 4)
    assert document.values[("b", 1)] == at(1, 11)


def test_a_date_key_is_rejected_with_its_path():
    with pytest.raises(SpecError) as caught:
        load_located("a:\n  2024-01-01: x\n", "spec.yaml")
    assert str(caught.value) == (
        "spec.yaml:2:3: a.2024-01-01: mapping keys must be plain scalars, but '2024-01-01' "
        "reads as a date; quote it to make it a string"
    )


def test_surrogate_pair_escapes_are_combined_in_values_and_keys():
    document = load_located('{"\\ud83d\\ude00": "a\\ud83d\\ude00b"}', "spec.json")
    assert document.data == {"\U0001f600": "a\U0001f600b"}


@pytest.mark.parametrize(
    ("text", "position"), [('{"a": "x\\ud800"}', at(1, 7)), ('{"\\udc00": 1}', at(1, 2))]
)
def test_an_unpaired_surrogate_is_reported(text, position):
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.json")
    issue = single_issue(caught.value)
    assert issue.position == position
    assert issue.message == "string contains an unpaired UTF-16 surrogate"


def test_a_key_with_line_breaks_keeps_each_issue_on_one_line():
    with pytest.raises(SpecError) as caught:
        load_located('"a\\nb": 1\n"a\\nb": 2\n', "spec.yaml")
    assert str(caught.value) == (
        "spec.yaml:2:1: a b: duplicate key 'a\\nb' (first defined at line 1)"
    )


# -- unclosed brackets, tabs, and the size of a document -------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        (
            "variants:\n  a: [prune.magnitude\n\nbenchmark: {}\n",
            at(4, 10),
            "expected ',' or ']', but got ':': is the '[' at line 2, column 6 closed?",
        ),
        (
            "benchmark: {batch_sizes: [1, 2]\nname: x\n",
            at(2, 1),
            "expected ',' or '}', but got '<scalar>': is the '{' at line 1, column 12 closed?",
        ),
        (
            "a: [1, {b: 2]\n",
            at(1, 13),
            "expected ',' or '}', but got ']': is the '{' at line 1, column 8 closed?",
        ),
        (
            "variants: {a: [x,\n",
            at(2, 1),
            "expected the node content, but found '<stream end>': is the '[' at line 1, column "
            "15 closed?",
        ),
        (
            'name: "abc\nmodel: x\n',
            at(3, 1),
            "found unexpected end of stream (while scanning a quoted scalar that starts at "
            "line 1, column 7)",
        ),
    ],
)
def test_unclosed_brackets_and_quotes_say_where_they_opened(text, position, message):
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.yaml")
    issue = single_issue(caught.value)
    assert (issue.position, issue.message) == (position, f"invalid YAML: {message}")


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("variants:\n\ta: [x]\n", at(2, 1)),
        ("variants:\n  a:\n  \t- x\n", at(3, 3)),
        ("name: x\n\t\n", at(2, 1)),
        ("a: |\n\tblock\n", at(2, 1)),
    ],
)
def test_a_tab_indenting_a_line_is_named(text, position):
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.yaml")
    issue = single_issue(caught.value)
    assert issue.position == position
    assert issue.message == (
        "invalid YAML: a tab indents this line: YAML does not allow tabs for indentation; "
        "use spaces"
    )


@pytest.mark.parametrize("text", ["a:\tb\n", "a: 1\t# comment\n", "a: [1,\t2]\n"])
def test_a_tab_between_tokens_is_named_too(text):
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.yaml")
    assert "a tab here" in single_issue(caught.value).message


def test_too_many_values_stop_while_composing_without_blaming_aliases(monkeypatch):
    from squeezebench.spec import yaml_loader

    monkeypatch.setattr(yaml_loader, "MAX_NODES", 1000)
    text = "variants:\n" + "".join(f"  v{i}: [x]\n" for i in range(2000)) + "typo: 1\n"
    with pytest.raises(SpecError) as caught:
        load_located(text, "spec.yaml")
    issue = single_issue(caught.value)
    assert issue.message == "the document holds more than 1000 values"
    assert issue.position is not None and issue.position.line < 600  # stopped on the way


def _function_calls(text: str) -> int:
    """Python function calls made while loading ``text``: a machine-independent work count."""
    import cProfile
    import pstats

    profile = cProfile.Profile()
    profile.enable()
    try:
        load_located(text, "spec.yaml")
    except SpecError:
        pass
    finally:
        profile.disable()
    return pstats.Stats(profile).total_calls


SCALING_SHAPES = {
    "variants": lambda n: "variants:\n" + "".join(f"  v{i}: [m.x: {{a: 1}}]\n" for i in range(n)),
    "flow list": lambda n: "seed: [" + ", ".join("1" for _ in range(n)) + "]\n",
    "flow mapping": lambda n: "x: {" + ", ".join(f"k{i}: 1" for i in range(n)) + "}\n",
    "aliases": lambda n: "x: &a [1, 2]\ny:\n" + "".join("  - *a\n" for _ in range(n)),
    "merges": lambda n: "b: &b {x: 1}\n" + "".join(f"m{i}: {{<<: *b, y: 2}}\n" for i in range(n)),
    "duplicates": lambda n: "".join("a: 1\n" for _ in range(n)),
    "bad values": lambda n: "".join(f"k{i}: !!int x\n" for i in range(n)),
    "long string": lambda n: "name: " + "a" * (40 * n) + "\n",
    "comments": lambda n: "".join(f"# comment {i}\n" for i in range(n)) + "name: x\n",
}


@pytest.mark.parametrize("shape", SCALING_SHAPES)
def test_loading_work_grows_linearly_with_the_document(shape):
    make = SCALING_SHAPES[shape]
    small, large = _function_calls(make(250)), _function_calls(make(1000))
    assert large < 4.4 * small, (small, large)  # quadratic work would give about 16x
