"""Reading a spec's bytes: the size limit, UTF-8 and where the first bad byte is."""

from __future__ import annotations

import pytest

from squeezebench.errors import UserError
from squeezebench.spec.issues import Position, SpecError
from squeezebench.spec.load import load_spec
from squeezebench.spec.spec_text import MAX_SPEC_BYTES, read_spec_text

GOOD = "name: t\nmodel: builtin:digits-mlp\n"


def _issue(path):
    with pytest.raises(SpecError) as caught:
        read_spec_text(path)
    (issue,) = caught.value.issues
    return issue, str(caught.value)


def test_a_spec_above_the_limit_is_refused_before_parsing(tmp_path, registry) -> None:
    # 100,000 variants (about 3 MB) with a typo at the end: refused at once, for its size
    path = tmp_path / "huge.yaml"
    lines = "".join(f"  v{i}: [quantize.dynamic_int8]\n" for i in range(100_000))
    path.write_text(GOOD + "variants:\n" + lines + "benchmrk: {}\n")
    size = path.stat().st_size
    with pytest.raises(SpecError) as caught:
        load_spec(path, registry)
    assert str(caught.value) == (
        f"{path}: the file is {size:,} bytes, above the 1,048,576-byte (1 MiB) limit of a "
        "spec, so it was not parsed; list fewer variants, or let a sweep expand them"
    )


def test_a_spec_at_the_limit_is_read(tmp_path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(GOOD.encode() + b"#" * (MAX_SPEC_BYTES - len(GOOD)))
    assert read_spec_text(path).startswith(GOOD)
    path.write_bytes(path.read_bytes() + b"#")
    assert "above the 1,048,576-byte" in _issue(path)[0].message


@pytest.mark.parametrize(
    ("data", "position", "byte"),
    [
        ("name: café\n".encode("latin-1"), Position(1, 10), "0xe9"),
        (b"name: t\r\n# \xc3\xa9t\xc3\xa9 ok\r\nmodel: \xff\n", Position(3, 8), "0xff"),
        ("name: t\n# ñandú\n  x: 'ü'\x85y: \x80".encode() + b"\x80\n", Position(4, 5), "0x80"),
        (b"name: \xf0\x9f\x98\x80 then \xed\xa0\x80\n", Position(1, 14), "0xed"),  # a surrogate
        (b"\xc3", Position(1, 1), "0xc3"),  # cut in the middle of a character
    ],
)
def test_undecodable_bytes_are_located(tmp_path, data, position, byte) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(data)
    issue, rendered = _issue(path)
    assert issue.position == position
    assert issue.message.startswith(f"byte {byte} is not UTF-8 (")
    assert issue.message.endswith("a spec must be UTF-8 text: save it as UTF-8")
    assert rendered.startswith(f"{path}:{position.line}:{position.column}: byte {byte}")


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_utf16_and_utf32_files_are_named(tmp_path, encoding, name) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(GOOD.encode(encoding))
    issue, _ = _issue(path)
    assert issue.message.startswith(f"the file is {name} (it starts with a {name} byte-order")


def test_a_utf8_byte_order_mark_is_fine(tmp_path, registry) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD.encode())
    assert load_spec(path, registry).spec.name == "t"


def test_a_folder_is_not_a_spec(tmp_path) -> None:
    with pytest.raises(UserError, match="cannot read spec file"):
        read_spec_text(tmp_path)
