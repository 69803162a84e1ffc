"""How often does ``squeezebench compare`` cry wolf, and does it still catch a real slowdown?

On this machine, back to back:

1. ``--pairs`` pairs of clean runs of a small spec: ``compare first second`` should exit 0
   (no regression) in at least 9 of 10;
2. for each pair, a run with every model made 30% slower by a plugin loaded into the
   workers: ``compare first slowed`` should exit 1 (regression) every time;
3. ``--burner-runs`` runs during which a CPU burner (one busy process) starts mid-run:
   ``compare first burned`` should find the slowed rows *inconclusive* (measured under
   contention), never a regression.

It prints each comparison's exit code and verdict counts, then the totals. A benchmark
script, not a test: ``python benchmarks/noise.py`` (about 6 minutes with the defaults).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

SPEC = """
name: noise
model: builtin:digits-mlp
dataset: builtin:digits
variants:
  int8: [quantize.dynamic_int8]
  pruned:
    - prune.magnitude: {sparsity: 0.5}
targets:
  - {backend: torch, device: cpu, options: {threads: 1}}
benchmark:
  batch_sizes: [1, 8]
  warmup_seconds: 0.05
  min_repeats: 50
  min_seconds: 0.2
  rounds: 3
"""

SLOWDOWN_PLUGIN = """
import os, time
import torch

_factor = float(os.environ.get("NOISE_SLOWDOWN", "0"))
_forward = torch.nn.Sequential.forward


def _slower(self, *args, **kwargs):
    start = time.perf_counter()
    result = _forward(self, *args, **kwargs)
    until = time.perf_counter() + _factor * (time.perf_counter() - start)
    while time.perf_counter() < until:
        pass
    return result


if _factor > 0:
    torch.nn.Sequential.forward = _slower
"""


def run(spec: Path, output: Path, environment: dict[str, str] | None = None) -> Path:
    """``squeezebench run`` into its own folder; the run folder."""
    subprocess.run(
        [sys.executable, "-m", "squeezebench", "run", str(spec), "-q", "-o", str(output)],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, **(environment or {})},
    )
    (folder,) = [p for p in output.iterdir() if p.is_dir()]
    return folder


def compare(first: Path, second: Path) -> tuple[int, dict[str, int]]:
    """Exit code of the comparison and how many latency verdicts of each kind it gave."""
    from squeezebench.results.compare import compare as compare_runs

    comparison = compare_runs(first, second)
    verdicts: dict[str, int] = {}
    for change in comparison.changes:
        if change.metric.column == "latency_p50_ms":
            verdicts[change.verdict] = verdicts.get(change.verdict, 0) + 1
    return int(comparison.exit_code), verdicts


def burner_after(seconds: float, stop: threading.Event) -> threading.Thread:
    """A thread that starts one busy process after ``seconds`` and kills it on ``stop``."""

    def burn() -> None:
        if stop.wait(seconds):
            return
        process = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        stop.wait()
        process.kill()
        process.wait()

    thread = threading.Thread(target=burn, daemon=True)
    thread.start()
    return thread


def main() -> None:
    """Run the three experiments and print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--burner-runs", type=int, default=3)
    parser.add_argument("--burner-delay", type=float, default=3.0, help="seconds into the run")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        spec = root / "noise.yaml"
        spec.write_text(SPEC)
        plugin = root / "slowdown.py"
        plugin.write_text(SLOWDOWN_PLUGIN)
        slowed_env = {"SQUEEZEBENCH_PLUGINS": str(plugin), "NOISE_SLOWDOWN": "0.3"}
        clean_ok = flagged = 0
        firsts = []
        for pair in range(arguments.pairs):
            first = run(spec, root / f"first-{pair}")
            second = run(spec, root / f"second-{pair}")
            slowed = run(spec, root / f"slowed-{pair}", slowed_env)
            firsts.append(first)
            clean_code, clean_verdicts = compare(first, second)
            slow_code, slow_verdicts = compare(first, slowed)
            clean_ok += clean_code == 0
            flagged += slow_code == 1
            print(
                f"pair {pair + 1}: clean rerun exit {clean_code} {clean_verdicts}; "
                f"30% slower exit {slow_code} {slow_verdicts}",
                flush=True,
            )
        burned_inconclusive = burned_regression = 0
        for index in range(arguments.burner_runs):
            stop = threading.Event()
            thread = burner_after(arguments.burner_delay, stop)
            try:
                burned = run(spec, root / f"burned-{index}")
            finally:
                stop.set()
                thread.join()
            code, verdicts = compare(firsts[index % len(firsts)], burned)
            burned_regression += code == 1
            burned_inconclusive += verdicts.get("inconclusive", 0) > 0 and code == 0
            print(f"burner run {index + 1}: exit {code} {verdicts}", flush=True)
    print()
    print(f"clean reruns without a regression: {clean_ok} of {arguments.pairs}")
    print(f"30% slowdowns flagged as regressions: {flagged} of {arguments.pairs}")
    print(
        f"burner runs: inconclusive (exit 0) {burned_inconclusive} of {arguments.burner_runs}, "
        f"called a regression {burned_regression} of {arguments.burner_runs}"
    )


if __name__ == "__main__":
    main()
