"""Does the harness report what a stopwatch would? Its p50 against a hand-written loop.

The same model (``builtin:digits-cnn``), the same torch runner (squeezebench's ``torch``
backend, the same thread count) and the same test batches are timed two ways:

- **harness**: ``squeezebench run`` of a baseline-only spec (fresh worker processes,
  ``benchmark.rounds`` rounds, condition probes around each window); its ``latency_p50_ms``;
- **hand**: a fresh Python process per round that builds the runner the same way and times
  ``runner.run(batch); runner.synchronize()`` with ``time.perf_counter_ns`` in a plain loop
  (the same warm-up, at least as many calls); the median of the rounds' medians.

The two alternate (hand, harness, hand, ...) so that a slow drift of the machine touches
both alike. Run it on a quiet machine: ``python benchmarks/harness_vs_hand.py``. It prints
both figures per batch size and their difference; the goal is within 2%.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SPEC = """
name: harness-vs-hand
model: builtin:digits-cnn
dataset: builtin:digits
targets:
  - {{backend: torch, device: cpu, options: {{threads: {threads}}}}}
benchmark:
  batch_sizes: {batch_sizes}
  warmup_seconds: {warmup}
  min_repeats: {repeats}
  min_seconds: {seconds}
  rounds: {rounds}
  drift_check: false
"""


def hand_round(threads: int, batch_sizes: list[int], warmup: float, repeats: int, seconds: float):
    """One fresh-process round of the hand loop: {batch size: median ms}."""
    from squeezebench.harness.measure_job import latency_batch
    from squeezebench.harness.workspace import Workspace
    from squeezebench.plugins.manager import default_registry
    from squeezebench.spec.models import TargetSpec

    registry = default_registry()
    workspace = Workspace(registry, Path.cwd(), "builtin:digits-cnn", "digits", 0)
    target = TargetSpec(backend="torch", device="cpu", options={"threads": threads})
    runner = registry.get("backend", "torch")().prepare(workspace.model.artifact, target)
    medians = {}
    for batch_size in batch_sizes:
        placed = runner.place(latency_batch(workspace.data, None, batch_size))
        until = time.perf_counter() + warmup
        while True:
            runner.run(placed)
            runner.synchronize()
            if time.perf_counter() >= until:
                break
        samples = []
        end = time.perf_counter_ns() + int(seconds * 1e9)
        while len(samples) < repeats or time.perf_counter_ns() < end:
            begin = time.perf_counter_ns()
            runner.run(placed)
            runner.synchronize()
            samples.append((time.perf_counter_ns() - begin) / 1e6)
        medians[batch_size] = statistics.median(samples)
    return medians


def harness_p50(spec_text: str) -> dict[int, float]:
    """``squeezebench run`` of the spec; its p50 per batch size."""
    import squeezebench.results

    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "spec.yaml"
        spec.write_text(spec_text)
        subprocess.run(
            [sys.executable, "-m", "squeezebench", "run", str(spec), "-q", "-o", folder],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        frame = squeezebench.results.load(folder)
        return dict(zip(frame.batch_size, frame.latency_p50_ms, strict=True))


def main() -> None:
    """Alternate hand and harness measurements; print both and the difference."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--batch-sizes", default="1,32")
    parser.add_argument("--hand-round", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    batch_sizes = [int(b) for b in arguments.batch_sizes.split(",")]
    settings = {"warmup": 0.2, "repeats": 200, "seconds": 0.5}
    if arguments.hand_round:
        medians = hand_round(arguments.threads, batch_sizes, **settings)
        print(json.dumps(medians))
        return
    spec_text = SPEC.format(
        threads=arguments.threads,
        batch_sizes=batch_sizes,
        rounds=arguments.rounds,
        **settings,
    )
    hand: dict[int, list[float]] = {b: [] for b in batch_sizes}
    harness: dict[int, list[float]] = {b: [] for b in batch_sizes}
    command = [sys.executable, __file__, "--hand-round", "--threads", str(arguments.threads)]
    command += ["--batch-sizes", arguments.batch_sizes]
    for pair in range(arguments.pairs):
        rounds = [
            json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            for _ in range(arguments.rounds)
        ]
        for batch_size in batch_sizes:
            hand[batch_size].append(statistics.median(r[str(batch_size)] for r in rounds))
        for batch_size, p50 in harness_p50(spec_text).items():
            harness[batch_size].append(p50)
        print(
            f"pair {pair + 1}: "
            + ", ".join(
                f"b={b} hand {hand[b][-1]:.4f} ms harness {harness[b][-1]:.4f} ms"
                for b in batch_sizes
            ),
            flush=True,
        )
    print("\nbatch  hand p50 (ms)  harness p50 (ms)  harness/hand")
    for batch_size in batch_sizes:
        by_hand = statistics.median(hand[batch_size])
        by_harness = statistics.median(harness[batch_size])
        ratio = by_harness / by_hand
        change = f"({ratio - 1:+.1%})"
        print(f"{batch_size:>5}  {by_hand:13.4f}  {by_harness:16.4f}  {ratio:11.3f} {change}")


if __name__ == "__main__":
    main()
