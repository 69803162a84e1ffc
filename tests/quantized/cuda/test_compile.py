"""Every kernel instance compiles with nvcc for sm_80 and sm_90, without spills (no GPU).

A syntax error, a register spill or a shared-memory overflow in the CUDA source fails here,
on a machine without a GPU, instead of at the first CUDA forward of a user's run. Slow on
purpose (about 240 instances, each fully unrolled: a minute or two of ptxas): the two
architectures compile in parallel processes.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from squeezebench.quantized.cuda import source, wide_source

nvcc = shutil.which("nvcc")
pytestmark = pytest.mark.skipif(nvcc is None, reason="nvcc (the CUDA compiler) is not on PATH")
ARCHS = ("80", "90")


@pytest.fixture(scope="module")
def ptxas_reports(tmp_path_factory) -> dict[str, str]:
    folder = tmp_path_factory.mktemp("nvcc")
    unit = folder / "all_instances.cu"
    unit.write_text(source.source() + "\n" + source.explicit_instantiations(source.all_instances()))
    running = {}
    for arch in ARCHS:
        command = [nvcc, *source.COMPILE_OPTIONS, "-c", "-Xptxas", "-v", "-o", f"{arch}.o"]
        command += ["-gencode", f"arch=compute_{arch},code=sm_{arch}", str(unit)]
        running[arch] = subprocess.Popen(
            command, cwd=folder, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    reports = {}
    for arch, process in running.items():
        _, stderr = process.communicate(timeout=1200)
        assert process.returncode == 0, stderr[-4000:]
        reports[arch] = stderr
    return reports


def test_every_instance_is_compiled_for_both_architectures(ptxas_reports) -> None:
    for arch, report in ptxas_reports.items():
        entries = re.findall(r"Compiling entry function '(\w+)' for 'sm_(\d+)'", report)
        assert len(entries) == len(source.all_instances())
        assert {found for _, found in entries} == {arch}
        assert sum("weight_only_gemm_wide" in name for name, _ in entries) == len(
            wide_source.all_wide_instances()
        )


def test_kernels_are_found_by_the_names_launch_computes(ptxas_reports) -> None:
    """``launch`` looks kernels up by ``source.mangled_name``: it must be the compiler's."""
    compiled = set(re.findall(r"Compiling entry function '(\w+)'", ptxas_reports["90"]))
    assert compiled == {source.mangled_name(name) for name in source.all_instances()}


def test_no_instance_spills_on_hopper(ptxas_reports) -> None:
    """The launch shapes were chosen on sm_90: there, no register spills and no stack frame.
    (On sm_80 one int8 instance of the row layout spills 8 bytes; slower there, correct.)"""
    report = ptxas_reports["90"]
    usage = re.findall(r"(\d+) bytes stack frame, (\d+) bytes spill stores", report)
    assert len(usage) == len(source.all_instances())
    assert all(entry == ("0", "0") for entry in usage)
    for text in ptxas_reports.values():
        assert "warning" not in text.lower()


def test_the_wide_kernel_stays_within_static_shared_memory(ptxas_reports) -> None:
    smem = [int(n) for n in re.findall(r"(\d+) bytes smem", ptxas_reports["90"])]
    assert smem and max(smem) <= source.SHARED_MEMORY_LIMIT
    assert wide_source.check_wide_configs() == []
