"""Where dispatch decisions come from: the setting, the decision file, calibration.

``SQUEEZEBENCH_CUDA_DISPATCH`` (:data:`DISPATCH_VARIABLE`) chooses how:

* unset: calibrate each new key once and keep the decision in
  ``<squeezebench cache dir>/cuda_dispatch.json`` (``squeezebench.paths.cache_dir``), read
  by every later process;
* a file path (``*.json``): the same, with that file;
* ``heuristic``: no calibration, the static plan (fused kernel up to 128 rows in chunks of
  32, then dequantize + cuBLAS: what was measured on an H200);
* ``fused``, ``wide``, ``dequantize`` or ``dense``: that path wherever it can run (else the
  heuristic), e.g. to compare paths.

The decision file can be edited by hand: ``{"decisions": {"<key>": {"path": "dequantize"}}}``
pins a key (keys as :meth:`DispatchKey.text` writes them). Entries written by calibration
carry a fingerprint of the kernels and are ignored by other kernels. An unreadable file is
ignored with a warning: inference never fails because of it.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from squeezebench.errors import UserError
from squeezebench.quantized.cuda.calibration import PATHS, Decision, DispatchKey

DISPATCH_VARIABLE = "SQUEEZEBENCH_CUDA_DISPATCH"
DECISION_FILE = "cuda_dispatch.json"
FILE_VERSION = 1

_logger = logging.getLogger("squeezebench")


@dataclass(frozen=True)
class DispatchSetting:
    """``mode`` ``calibrate`` (with the decision ``file``), ``heuristic`` or ``forced``
    (``path``)."""

    mode: str
    file: Path | None = None
    path: str | None = None


def dispatch_setting(value: str | None = None) -> DispatchSetting:
    """The setting of ``SQUEEZEBENCH_CUDA_DISPATCH`` (or ``value``); UserError if invalid."""
    value = os.environ.get(DISPATCH_VARIABLE) if value is None else value
    value = (value or "").strip()
    if not value:
        from squeezebench.paths import cache_dir

        return DispatchSetting("calibrate", cache_dir() / DECISION_FILE)
    if value == "heuristic":
        return DispatchSetting("heuristic")
    if value in PATHS:
        return DispatchSetting("forced", path=value)
    if value.endswith(".json"):
        return DispatchSetting("calibrate", Path(value).expanduser())
    choices = ", ".join(("heuristic", *PATHS, "<file>.json"))
    raise UserError(f"{DISPATCH_VARIABLE}={value!r}: expected one of {choices}")


class DecisionStore:
    """Decisions in memory, backed by a JSON file shared by processes (None: memory only).

    ``kernels`` fingerprints the kernel source and launch shapes: decisions written with
    another fingerprint (older kernels) are ignored, so they are made again; entries
    without one (written by hand) are taken as they are.
    """

    def __init__(self, file: Path | None, kernels: str | None = None) -> None:
        self.file = file
        self.kernels = kernels
        self._memory: dict[str, Decision] = {}
        self._loaded = False

    def get(self, key: DispatchKey) -> Decision | None:
        """The decision for ``key`` made in this process or found in the file."""
        if not self._loaded:
            self._loaded = True
            for text, decision in self._read().items():
                self._memory.setdefault(text, decision)
        return self._memory.get(key.text())

    def put(self, key: DispatchKey, decision: Decision) -> None:
        """Keep ``decision``, and add it to the file (merged with what others wrote)."""
        self._memory[key.text()] = decision
        if self.file is None:
            return
        try:
            entries = self._raw_entries()
            entries[key.text()] = {**decision.to_json(), "kernels": self.kernels}
            self.file.parent.mkdir(parents=True, exist_ok=True)
            temporary = self.file.with_name(f".{self.file.name}.{os.getpid()}.tmp")
            payload = {"format_version": FILE_VERSION, "decisions": entries}
            temporary.write_text(json.dumps(payload, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(temporary, self.file)
        except OSError as error:
            _logger.warning("cuda dispatch: cannot write %s (%s)", self.file, error)

    def _raw_entries(self) -> dict[str, dict]:
        if self.file is None or not self.file.is_file():
            return {}
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
            entries = data.get("decisions", {})
            if not isinstance(entries, dict):
                raise ValueError("'decisions' is not an object")
            return entries
        except (OSError, ValueError, AttributeError) as error:
            _logger.warning("cuda dispatch: ignoring unreadable %s (%s)", self.file, error)
            return {}

    def _read(self) -> dict[str, Decision]:
        decisions = {}
        for text, entry in self._raw_entries().items():
            written_for = entry.get("kernels") if isinstance(entry, dict) else None
            if written_for is not None and written_for != self.kernels:
                continue  # made for other kernels: decide again
            try:
                decisions[text] = Decision.from_json(entry, "cached")
            except (ValueError, TypeError, AttributeError) as error:
                _logger.warning("cuda dispatch: ignoring %s in %s (%s)", text, self.file, error)
        return decisions


def choose(
    key: DispatchKey,
    available: list[str],
    heuristic: str,
    setting: DispatchSetting,
    store: DecisionStore,
    calibrate: Callable[[], Decision] | None,
) -> Decision:
    """The decision for ``key`` among the ``available`` paths.

    Forced or heuristic settings first; then a decision made before (this process or the
    file), restricted to what is available now; else ``calibrate()`` (None when it cannot
    run now, e.g. during CUDA graph capture, or is not worth it: the heuristic, not kept).
    """
    unavailable = set(PATHS) - set(available)
    if setting.mode == "forced":
        path = setting.path if setting.path in available else heuristic
        return Decision(path, "forced" if path == setting.path else "heuristic")
    if setting.mode == "heuristic":
        return Decision(heuristic, "heuristic")
    known = store.get(key)
    if known is not None:
        return known.without(unavailable, heuristic)
    if calibrate is None:
        return Decision(heuristic, "heuristic")
    decision = calibrate()
    store.put(key, decision)
    return decision.without(unavailable, heuristic)
