"""Reading a spec file's text: bounded in size, UTF-8, problems located by line and column.

A spec is a hand-written document of a few kilobytes. Anything above :data:`MAX_SPEC_BYTES`
is refused before it is parsed (the YAML parser is pure Python: megabytes take seconds), and
bytes that are not UTF-8 are reported where they are, with what the file must be.
"""

from __future__ import annotations

from pathlib import Path

from squeezebench.errors import UserError
from squeezebench.spec.issues import SpecError, SpecIssue
from squeezebench.spec.yaml_loader import position_of

MAX_SPEC_BYTES = 1 << 20
"""The largest spec file read, in bytes (1 MiB): a hundred times a large hand-written spec."""

_UTF16_32_MARKS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


def read_spec_text(path: Path) -> str:
    """The text of the spec at ``path``.

    Raises :class:`UserError` when the file cannot be read, and :class:`SpecError` when it
    is larger than :data:`MAX_SPEC_BYTES` or not UTF-8 (at the line and column of the first
    byte that cannot be decoded). A UTF-8 byte-order mark is allowed.
    """
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"spec file not found: {path}") from None
    except OSError as error:
        raise UserError(f"cannot read spec file {path}: {error.strerror or error}") from None
    filename = str(path)
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(filename, [_too_large(path)])
    for mark, encoding in _UTF16_32_MARKS:
        if data.startswith(mark):
            message = (
                f"the file is {encoding} (it starts with a {encoding} byte-order mark); "
                "a spec must be UTF-8 text: save it as UTF-8"
            )
            raise SpecError(filename, [SpecIssue(message, (), position_of("", 0), "")])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        prefix = data[: error.start].decode("utf-8")
        message = (
            f"byte 0x{data[error.start]:02x} is not UTF-8 ({error.reason}); a spec must be "
            "UTF-8 text: save it as UTF-8"
        )
        issue = SpecIssue(message, (), position_of(prefix, len(prefix)), "")
        raise SpecError(filename, [issue]) from None


def _too_large(path: Path) -> SpecIssue:
    try:
        size = f"{path.stat().st_size:,} bytes"
    except OSError:  # a pipe, or gone meanwhile
        size = "more than that"
    message = (
        f"the file is {size}, above the {MAX_SPEC_BYTES:,}-byte (1 MiB) limit of a spec, so it "
        "was not parsed; list fewer variants, or let a sweep expand them"
    )
    return SpecIssue(message, (), None, "")
