"""Compile every kernel instance through CuPy, in parallel, to fill its disk cache (needs a GPU).

The first use of an instance compiles it with NVRTC (a second or two each, one at a time);
the tests and the benchmark use about a hundred of them. Compiling them all here first, one
process per CPU core, leaves CuPy's kernel cache (``~/.cupy/kernel_cache``, or
``CUPY_CACHE_DIR``) warm, so the device time of the checks after it goes to running them.

    python benchmarks/cuda/precompile.py [--workers N]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


def compile_one(name: str) -> tuple[str, float, str | None]:
    from squeezebench.quantized.cuda import launch

    start = time.perf_counter()
    try:
        launch._function(name, 0)
    except Exception as error:  # reported, the others go on
        return name, time.perf_counter() - start, f"{type(error).__name__}: {error}"
    return name, time.perf_counter() - start, None


def main() -> None:
    from squeezebench.quantized.cuda import source

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    names = source.all_instances()
    start = time.perf_counter()
    failed = []
    with multiprocessing.get_context("spawn").Pool(args.workers) as pool:
        for name, _seconds, problem in pool.imap_unordered(compile_one, names):
            if problem is not None:
                failed.append(name)
                print(f"FAILED {name}: {problem}", flush=True)
    total = time.perf_counter() - start
    print(f"compiled {len(names) - len(failed)}/{len(names)} instances in {total:.0f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
