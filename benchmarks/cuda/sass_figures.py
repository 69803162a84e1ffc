"""Static figures of the weight-only kernels, read from their SASS (no GPU needed).

Compiles the kernel instances with ``nvcc -cubin`` (``-Xptxas -v`` for registers, spills
and shared memory), disassembles them with ``cuobjdump -sass`` and prints, per instance:

* ``regs``, ``spill`` (bytes stored + loaded), ``smem``: from ptxas;
* ``loop``: SASS instructions in the K loop (the innermost loop that loads weights; loops
  nested in it, such as the wide kernel's cp.async staging, count once);
* ``wload``: 128-bit weight loads in that loop (``LDG.E.EF.128``: the row layout's
  streaming loads; ``LDG.E.NA.128``: the tiled layout's, L1 no-allocate with the L2
  evict-first policy descriptor); each is 512 bytes per warp;
* ``instr/B``: loop instructions per weight byte a warp streams (``loop / (wload * 512)``);
* ``ld128``: every 128-bit global load of the kernel (weights and activations),
  ``ldgsts``: 128-bit cp.async copies, ``lds128``: 128-bit shared loads, ``hmma``: mma
  instructions, ``prmt``: byte permutes in the loop.

    python benchmarks/cuda/sass_figures.py [--arch 90] [--all] [--json FILE]

By default it reads the instances of the headline formats (float16 activations, int4 g128
and int8 per channel, symmetric, float16 scales); ``--all`` reads every instance. Needs
``nvcc``, ``cuobjdump`` and ``nvdisasm`` (on PATH, or ``pip install nvidia-cuda-cuobjdump
nvidia-cuda-nvdisasm``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))

from squeezebench.quantized.cuda import source, wide_source

WEIGHT_LOADS = ("LDG.E.EF.128", "LDG.E.NA.128")
INSTRUCTION = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)([^;]*);")


def headline_instances() -> list[str]:
    """The instances a float16 model quantized to int4 g128 / int8 per channel runs."""
    names = []
    for bits, group in ((4, 128), (8, None)):
        groups = 64 if group else 1
        for config in source.DEFAULT_CONFIGS.values():
            after = source.scale_after(bits, group or 8192, groups, config)
            for tiled in (False, True):
                names.append(source.fused_name("float16", bits, False, False, config, after, tiled))
        for config in wide_source.DEFAULT_WIDE_CONFIGS.values():
            after = wide_source.wide_scale_after(bits, group or 8192, groups, config)
            names.append(wide_source.wide_name("float16", bits, False, config, after))
    return names


def tool(name: str) -> str:
    """``name`` on PATH, else from the pip package ``nvidia-cuda-<name>``."""
    found = shutil.which(name)
    if found:
        return found
    site = Path(sysconfig.get_paths()["purelib"]) / "nvidia"
    for candidate in sorted(site.glob(f"*/bin/{name}")):
        return str(candidate)
    sys.exit(f"{name} not found: put it on PATH or pip install nvidia-cuda-{name}")


def compile_cubin(names: list[str], arch: str, folder: Path) -> tuple[Path, str]:
    unit = folder / "instances.cu"
    unit.write_text(source.source() + "\n" + source.explicit_instantiations(names))
    cubin = folder / f"sm_{arch}.cubin"
    command = [tool("nvcc"), *source.COMPILE_OPTIONS, "-cubin", f"-arch=sm_{arch}"]
    command += ["-Xptxas", "-v", "-o", str(cubin), str(unit)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(done.stderr[-4000:])
    return cubin, done.stderr


def ptxas_usage(report: str) -> dict[str, dict[str, int]]:
    """Registers, spill bytes and shared memory per mangled function."""
    usage: dict[str, dict[str, int]] = {}
    current = None
    for line in report.splitlines():
        if entry := re.search(r"Compiling entry function '(\w+)'", line):
            current = usage.setdefault(entry.group(1), {"regs": 0, "spill": 0, "smem": 0})
        elif current is not None and (spill := re.search(r"(\d+) bytes spill stores, (\d+)", line)):
            current["spill"] = int(spill.group(1)) + int(spill.group(2))
        elif current is not None and (regs := re.search(r"Used (\d+) registers", line)):
            current["regs"] = int(regs.group(1))
            if smem := re.search(r"(\d+) bytes smem", line):
                current["smem"] = int(smem.group(1))
    return usage


def sass_functions(cubin: Path) -> dict[str, list[tuple[int, str, str]]]:
    """Per mangled function, its instructions as (address, opcode, operands)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(tool("nvdisasm")).parent) + os.pathsep + env.get("PATH", "")
    command = [tool("cuobjdump"), "-sass", str(cubin)]
    text = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout
    functions: dict[str, list[tuple[int, str, str]]] = {}
    current: list[tuple[int, str, str]] = []
    for line in text.splitlines():
        if header := re.search(r"Function : (\w+)", line):
            current = functions.setdefault(header.group(1), [])
        elif found := INSTRUCTION.search(line):
            current.append((int(found.group(1), 16), found.group(3), found.group(4)))
    return functions


def figures(instructions: list[tuple[int, str, str]]) -> dict[str, float | int]:
    """The static figures of one function (see the module docstring)."""
    real = [i for i in instructions if i[1] != "NOP"]
    loops = []
    for address, opcode, operands in real:
        target = re.search(r"0x([0-9a-f]+)", operands) if opcode == "BRA" else None
        if target and int(target.group(1), 16) < address:
            body = [i for i in real if int(target.group(1), 16) <= i[0] <= address]
            loads = sum(i[1] in WEIGHT_LOADS for i in body)
            if loads:
                loops.append((address - int(target.group(1), 16), body, loads))
    _, body, loads = min(loops, key=lambda loop: loop[0]) if loops else (0, [], 0)
    count = lambda ops, where: sum(i[1].startswith(ops) for i in where)  # noqa: E731
    return {
        "instructions": len(real),
        "loop": len(body),
        "wload": loads,
        "instr_per_byte": len(body) / (loads * 512) if loads else float("nan"),
        "ld128": sum(i[1].startswith("LDG.") and ".128" in i[1] for i in real),
        "ldgsts": count("LDGSTS", real),
        "lds128": sum(i[1] == "LDS.128" for i in real),
        "hmma": count("HMMA", real),
        "prmt": count("PRMT", body),
    }


def readable(mangled: str) -> str:
    """``weight_only_gemm<F16, 4, ...>`` from the mangled name (c++filt, when present)."""
    filt = shutil.which("c++filt")
    if filt is None:
        return mangled
    name = subprocess.run([filt, mangled], capture_output=True, text=True).stdout.strip()
    return re.sub(r"\(.*\)$", "", name.removeprefix("void "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", action="append", help="80 or 90 (default: both)")
    parser.add_argument("--all", action="store_true", help="every instance, not the headline")
    parser.add_argument("--json", type=Path, help="write the figures to this file too")
    args = parser.parse_args()
    names = source.all_instances() if args.all else headline_instances()
    names = [n for n in names if not n.startswith("dequantize")]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for arch in args.arch or ["80", "90"]:
            cubin, report = compile_cubin(names, arch, Path(folder))
            usage = ptxas_usage(report)
            for mangled, instructions in sass_functions(cubin).items():
                rows.append({"arch": arch, "kernel": readable(mangled), **usage[mangled],
                             **figures(instructions)})  # fmt: skip
    header = (
        f"{'sm':<3}{'kernel':<74}{'regs':>5}{'spill':>6}{'smem':>7}{'loop':>6}{'wload':>6}"
        f"{'instr/B':>8}{'ld128':>6}{'ldgsts':>7}{'lds128':>7}{'hmma':>5}{'prmt':>5}"
    )
    print(header)
    for row in sorted(rows, key=lambda r: (r["arch"], r["kernel"])):
        print(
            f"{row['arch']:<3}{row['kernel']:<74}{row['regs']:>5}{row['spill']:>6}"
            f"{row['smem']:>7}{row['loop']:>6}{row['wload']:>6}{row['instr_per_byte']:>8.3f}"
            f"{row['ld128']:>6}{row['ldgsts']:>7}{row['lds128']:>7}{row['hmma']:>5}"
            f"{row['prmt']:>5}"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
