"""Every kernel instance compiles with nvcc for sm_80 and sm_90, without spills (no GPU).

A syntax error, a register spill or a shared-memory overflow in the CUDA source fails here,
on a machine without a GPU, instead of at the first CUDA forward of a user's run.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from squeezebench.quantized.cuda import source

nvcc = shutil.which("nvcc")
pytestmark = pytest.mark.skipif(nvcc is None, reason="nvcc (the CUDA compiler) is not on PATH")


@pytest.fixture(scope="module")
def ptxas_report(tmp_path_factory) -> str:
    folder = tmp_path_factory.mktemp("nvcc")
    unit = folder / "all_instances.cu"
    unit.write_text(source.source() + "\n" + source.explicit_instantiations(source.all_instances()))
    command = [nvcc, *source.COMPILE_OPTIONS, "-c", "-Xptxas", "-v", "-o", str(folder / "a.o")]
    for arch in ("80", "90"):
        command += ["-gencode", f"arch=compute_{arch},code=sm_{arch}"]
    done = subprocess.run([*command, str(unit)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stderr


def test_every_instance_is_compiled_for_both_architectures(ptxas_report: str) -> None:
    entries = re.findall(r"Compiling entry function '(\w+)' for 'sm_(\d+)'", ptxas_report)
    assert len(entries) == 2 * len(source.all_instances())
    assert {arch for _, arch in entries} == {"80", "90"}


def test_no_instance_spills_on_hopper(ptxas_report: str) -> None:
    """The launch shapes were tuned on sm_90: there, no register spills and no stack frame.
    (On sm_80 one int8 instance spills 8 bytes; slower there, still correct.)"""
    per_entry, arch = [], None
    for line in ptxas_report.splitlines():
        if entry := re.search(r"Compiling entry function '\w+' for 'sm_(\d+)'", line):
            arch = entry.group(1)
        elif usage := re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores", line):
            per_entry.append((arch, *usage.groups()))
    hopper = [(frame, spill) for arch, frame, spill in per_entry if arch == "90"]
    assert len(hopper) == len(source.all_instances())
    assert all(entry == ("0", "0") for entry in hopper)
    assert "warning" not in ptxas_report.lower()
