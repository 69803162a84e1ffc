"""The SASS reader of ``benchmarks/cuda/sass_figures.py``, on a made-up listing (no GPU)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "cuda" / "sass_figures.py"
spec = importlib.util.spec_from_file_location("sass_figures", SCRIPT)
sass_figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sass_figures)

LISTING = """
        /*0000*/                   LDC R1, c[0x0][0x28] ;
        /*0010*/                   LDG.E.128.CONSTANT R24, desc[UR8][R40.64] ;
        /*0020*/              @!P1 LDG.E.NA.128 R52, desc[UR4][R10.64] ;
        /*0030*/                   HMMA.16816.F32 R4, R8, R12, R4 ;
        /*0040*/                   PRMT R2, R3, 0x5410, R4 ;
        /*0050*/                   LDS.128 R8, [R2] ;
        /*0060*/              @!P2 LDG.E.NA.128 R56, desc[UR4][R8.64] ;
        /*0070*/                   NOP ;
        /*0080*/               @P0 BRA 0x20 ;
        /*0090*/                   LDGSTS.E.BYPASS.128 [R15], desc[UR10][R10.64], !P2 ;
        /*00a0*/                   BRA 0x90 ;
        /*00b0*/                   EXIT ;
"""


def test_the_k_loop_is_the_innermost_loop_that_loads_weights() -> None:
    instructions = [
        (int(m.group(1), 16), m.group(3), m.group(4))
        for line in LISTING.splitlines()
        if (m := sass_figures.INSTRUCTION.search(line))
    ]
    found = sass_figures.figures(instructions)
    assert found["instructions"] == 11  # NOP not counted
    assert (found["loop"], found["wload"]) == (6, 2)  # 0x20..0x80; the second loop has none
    assert found["instr_per_byte"] == 6 / 1024
    assert (found["ld128"], found["ldgsts"], found["lds128"], found["hmma"]) == (3, 1, 1, 1)
    assert found["prmt"] == 1


def test_ptxas_usage_per_function() -> None:
    report = """ptxas info    : Compiling entry function '_Z1fv' for 'sm_90'
ptxas info    : Function properties for _Z1fv
    8 bytes stack frame, 12 bytes spill stores, 4 bytes spill loads
ptxas info    : Used 168 registers, used 1 barriers, 32772 bytes smem
"""
    assert sass_figures.ptxas_usage(report) == {"_Z1fv": {"regs": 168, "spill": 16, "smem": 32772}}
