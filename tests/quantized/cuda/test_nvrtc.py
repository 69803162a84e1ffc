"""The kernel source compiles through NVRTC, as CuPy compiles it at run time (no GPU).

NVRTC, not nvcc: other predefined macros, no host compiler. With NVRTC's library present
(``pip install nvidia-cuda-nvrtc``), instances are compiled here for sm_90 the way
``launch._function`` asks CuPy to (the source plus an explicit instantiation, looked up by
``source.mangled_name``), and once more with name expressions, whose lowered names must be
the same.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import re
import sysconfig
from pathlib import Path

import pytest

from squeezebench.quantized.cuda import source


def _nvrtc() -> ctypes.CDLL | None:
    site = Path(sysconfig.get_paths()["purelib"]) / "nvidia"
    candidates = sorted(site.glob("*/lib/libnvrtc.so*"))
    found = [str(c) for c in candidates if "builtins" not in c.name] or [
        ctypes.util.find_library("nvrtc")
    ]
    for name in found:
        if name:
            try:
                return ctypes.CDLL(name)
            except OSError:
                continue
    return None


NVRTC = _nvrtc()
pytestmark = pytest.mark.skipif(NVRTC is None, reason="NVRTC's library is not installed")

NAMES = [
    "weight_only_gemm<F16, 4, false, false, 1, 2, 8, 2, true, true, false>",
    "weight_only_gemm<BF16, 8, true, true, 2, 4, 8, 2, true, false, true>",
    "weight_only_gemm_wide<F16, 4, false, 8, 1, 4, 2, true>",
    "weight_only_gemm_wide<BF16, 8, true, 2, 2, 4, 3, false>",
    "dequantize_packed<4, 1, false, 0, true>",
    "dequantize_packed<1, 2, true, 2, false>",
]


def _log(program: ctypes.c_void_p) -> str:
    size = ctypes.c_size_t()
    NVRTC.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    buffer = ctypes.create_string_buffer(size.value)
    NVRTC.nvrtcGetProgramLog(program, buffer)
    return buffer.value.decode(errors="replace")


def _compile(code: bytes, names: list[str]) -> tuple[ctypes.c_void_p, str]:
    program = ctypes.c_void_p()
    assert NVRTC.nvrtcCreateProgram(ctypes.byref(program), code, b"k.cu", 0, None, None) == 0
    for name in names:
        assert NVRTC.nvrtcAddNameExpression(program, name.encode()) == 0
    options = [o.encode() for o in (*source.COMPILE_OPTIONS, "--gpu-architecture=compute_90")]
    array = (ctypes.c_char_p * len(options))(*options)
    assert NVRTC.nvrtcCompileProgram(program, len(options), array) == 0, _log(program)
    size = ctypes.c_size_t()
    NVRTC.nvrtcGetPTXSize(program, ctypes.byref(size))
    ptx = ctypes.create_string_buffer(size.value)
    NVRTC.nvrtcGetPTX(program, ptx)
    return program, ptx.value.decode()


def test_an_explicit_instantiation_is_found_by_its_mangled_name() -> None:
    names = NAMES[::2]  # one per kernel
    code = source.source() + "\n" + source.explicit_instantiations(names)
    program, ptx = _compile(code.encode(), [])
    NVRTC.nvrtcDestroyProgram(ctypes.byref(program))
    entries = set(re.findall(r"\.entry (\w+)", ptx))
    assert entries == {source.mangled_name(name) for name in names}


def test_the_source_compiles_with_nvrtc_and_names_resolve() -> None:
    assert set(NAMES) <= set(source.all_instances())
    program = ctypes.c_void_p()
    code = source.source().encode()
    assert NVRTC.nvrtcCreateProgram(ctypes.byref(program), code, b"k.cu", 0, None, None) == 0
    try:
        for name in NAMES:
            assert NVRTC.nvrtcAddNameExpression(program, name.encode()) == 0
        options = [o.encode() for o in (*source.COMPILE_OPTIONS, "--gpu-architecture=sm_90")]
        array = (ctypes.c_char_p * len(options))(*options)
        assert NVRTC.nvrtcCompileProgram(program, len(options), array) == 0, _log(program)
        assert "warning" not in _log(program).lower()
        for name in NAMES:
            lowered = ctypes.c_char_p()
            assert NVRTC.nvrtcGetLoweredName(program, name.encode(), ctypes.byref(lowered)) == 0
            assert lowered.value.decode() == source.mangled_name(name)
    finally:
        NVRTC.nvrtcDestroyProgram(ctypes.byref(program))
