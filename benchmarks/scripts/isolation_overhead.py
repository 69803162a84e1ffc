"""What one-worker-per-job isolation costs: the same spec, inline and isolated.

    python benchmarks/scripts/isolation_overhead.py [SPEC] [--repeats N]

Prints the wall time of each run and the overhead per job. Not a test: run it on a quiet
machine and quote the figures.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from squeezebench.harness.run import run_spec
from squeezebench.plugins.manager import default_registry
from squeezebench.spec.load import load_spec

DEFAULT_SPEC = Path(__file__).resolve().parents[2] / "examples" / "quickstart.yaml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", nargs="?", default=str(DEFAULT_SPEC))
    parser.add_argument("--repeats", type=int, default=3)
    arguments = parser.parse_args()
    registry = default_registry()
    resolved = load_spec(arguments.spec, registry)
    jobs = len(resolved.variants) * len(resolved.targets)
    timings: dict[str, list[float]] = {"inline": [], "isolated": []}
    with tempfile.TemporaryDirectory() as folder:
        run_spec(resolved, registry, Path(folder) / "warm", isolate=False)  # train/cache model
        for _ in range(arguments.repeats):
            for mode in ("inline", "isolated"):
                start = time.perf_counter()
                run_spec(resolved, registry, Path(folder) / mode, isolate=mode == "isolated")
                timings[mode].append(time.perf_counter() - start)
    inline, isolated = (statistics.median(timings[m]) for m in ("inline", "isolated"))
    print(f"spec: {arguments.spec} ({jobs} jobs), median of {arguments.repeats} runs")
    print(f"inline:   {inline:7.2f} s")
    print(f"isolated: {isolated:7.2f} s")
    print(
        f"overhead: {isolated - inline:+7.2f} s in all, {(isolated - inline) / jobs:+.3f} s per job"
    )


if __name__ == "__main__":
    main()
