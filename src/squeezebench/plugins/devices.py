"""The syntax of a target's device (``cpu``, ``cuda``, ``cuda:1``), checked without hardware.

:meth:`squeezebench.plugins.contracts.Backend.check_device` uses this by default; a backend
whose devices are written differently overrides that method. Whether the device exists on
this machine is a separate question, answered by the backend's ``check`` when a job runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from squeezebench.suggest import closest

MAX_DEVICE_INDEX = 127
"""torch stores a device index in 8 signed bits: ``cuda:128`` would become ``cuda:-128``."""

_INDEX = re.compile(r"0|[1-9][0-9]*", re.ASCII)
_INDEXLESS = ("cpu",)


def device_forms(kinds: Sequence[str]) -> str:
    """``cpu, cuda, cuda:N with N from 0 to 127``: the ways to write a device of these kinds."""
    forms: list[str] = []
    for kind in kinds:
        forms += [kind] if kind in _INDEXLESS else [kind, f"{kind}:N"]
    indexed = any(kind not in _INDEXLESS for kind in kinds)
    return ", ".join(forms) + (f" with N from 0 to {MAX_DEVICE_INDEX}" if indexed else "")


def device_syntax_problem(device: str, kinds: Sequence[str], backend: str) -> str | None:
    """What is wrong with ``device`` for a backend running ``kinds``, or None if it is valid.

    Valid: a kind alone, or a kind other than ``cpu`` followed by ``:N`` with N a plain
    decimal index from 0 to :data:`MAX_DEVICE_INDEX` (no sign, no leading zero, ASCII digits).
    """
    kind, colon, index = device.partition(":")
    if kind in kinds and not colon:
        return None
    if kind in kinds and kind not in _INDEXLESS and _valid_index(index):
        return None
    if not device.strip():
        what = "is empty"
    elif any(character.isspace() for character in device):
        what = "contains white space"
    elif kind not in kinds:
        what = f"is not a device of backend {backend}"
    elif kind in _INDEXLESS:
        what = f"has an index, but {kind} takes none"
    elif not index:
        what = f"has nothing after '{kind}:'"
    elif ":" in index:
        what = "has more than one ':'"
    elif _INDEX.fullmatch(index) is None:
        what = f"has the index {index!r}; an index is a whole number in plain digits"
    else:
        what = f"has the index {index}, above {MAX_DEVICE_INDEX}"
    message = f"device {device!r} {what}"
    suggestion = _suggestion(device, kinds)
    if suggestion is not None:
        message += f"; did you mean {suggestion!r}?"
    return f"{message} (valid: {device_forms(kinds)})"


def _valid_index(index: str) -> bool:
    return _INDEX.fullmatch(index) is not None and int(index) <= MAX_DEVICE_INDEX


def _suggestion(device: str, kinds: Sequence[str]) -> str | None:
    """The valid device the writer most likely meant, if one is close."""
    compact = "".join(device.split()).lower()
    kind, _, index = compact.partition(":")
    kind = kind if kind in kinds else closest(kind, kinds)
    if kind is None:
        return None
    index = index.split(":")[0]
    try:
        number = int(index)  # accepts other scripts' digits and a sign: normalised here
    except ValueError:
        number = None
    if kind in _INDEXLESS or number is None or not 0 <= number <= MAX_DEVICE_INDEX:
        return kind if kind != device else None
    suggestion = f"{kind}:{number}"
    return suggestion if suggestion != device else None
