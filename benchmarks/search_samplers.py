"""Does TPE find the answer of ``examples/search-digits.yaml`` in fewer trials than random search?

For each sampler (``tpe``, ``random``) and each of ``--seeds`` seeds, the example's search runs
with that sampler and seed (in this process, ``--inline``; nothing here is timed, so the
figures do not depend on the machine's load). Then, per run:

- **best**: the smallest shipped size of a feasible trial (within 1 point of accuracy);
- **to hand-written**: the trials it took to be at least as small as the best hand-written
  variant of ``examples/methods-tour.yaml`` within 1 point (measured first, here, without
  its distillation variant), or ``-`` when it never was;
- **to 10%**: the trials it took to come within 10% of the best size any run found.

It prints one line per run and the means per sampler. A benchmark script, not a test:
``python benchmarks/search_samplers.py`` (a few minutes with the defaults).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "search-digits.yaml"
TOUR = ROOT / "examples" / "methods-tour.yaml"


def best_hand_written(folder: Path) -> tuple[str, float]:
    """The smallest shipped size of a methods-tour variant within 1 point, and its name."""
    from squeezebench.harness.run import run_spec
    from squeezebench.plugins.manager import default_registry
    from squeezebench.spec.load import load_spec

    data = yaml.safe_load(TOUR.read_text())
    data["variants"] = {
        name: steps
        for name, steps in data["variants"].items()
        if not any("distill.kd" in str(step) for step in steps)  # minutes, and not small
    }
    data["benchmark"] |= {"rounds": 1, "drift_check": False, "batch_sizes": [1]}
    spec = folder / "methods-tour.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    registry = default_registry()
    outcome = run_spec(load_spec(spec, registry), registry, folder / "tour", isolate=False)
    sizes = {
        row["variant"]: row.get("encoded_bytes") or row["artifact_bytes"]
        for row in outcome.rows
        if row["variant"] != "baseline" and (row.get("accuracy_delta") or -1) >= -0.01
    }
    name = min(sizes, key=sizes.get)
    return name, float(sizes[name])


def run_search(
    sampler: str, seed: int, trials: int, folder: Path
) -> list[tuple[int, float | None]]:
    """(trial number, shipped bytes if feasible else None) of every trial, in order."""
    from squeezebench.harness.run import run_spec
    from squeezebench.plugins.manager import default_registry
    from squeezebench.spec.load import load_spec

    data = yaml.safe_load(EXAMPLE.read_text())
    data["name"] = f"samplers-{sampler}-{seed}"
    data["search"] |= {"sampler": sampler, "seed": seed}
    data["search"]["budget"] = {"trials": trials}
    data["benchmark"] |= {"rounds": 1, "drift_check": False, "batch_sizes": [1]}
    spec = folder / f"{sampler}-{seed}.yaml"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    registry = default_registry()
    outcome = run_spec(load_spec(spec, registry), registry, folder / "results", isolate=False)
    return [
        (s.number, s.verdict.values[0] if s.verdict.feasible else None)
        for s in outcome.search.summaries
    ]


def trials_to(history: list[tuple[int, float | None]], threshold: float) -> int | None:
    """How many trials it took until a feasible one was at most ``threshold``."""
    for count, (_, value) in enumerate(history, start=1):
        if value is not None and value <= threshold:
            return count
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--trials", type=int, default=40)
    arguments = parser.parse_args()
    histories: dict[tuple[str, int], list] = {}
    with tempfile.TemporaryDirectory(prefix="search-samplers-") as temporary:
        print("measuring methods-tour...", file=sys.stderr, flush=True)
        hand_name, hand = best_hand_written(Path(temporary))
        for sampler in ("tpe", "random"):
            for seed in range(arguments.seeds):
                print(f"running {sampler} seed {seed}...", file=sys.stderr, flush=True)
                histories[sampler, seed] = run_search(
                    sampler, seed, arguments.trials, Path(temporary)
                )
    bests = {
        key: min((v for _, v in history if v is not None), default=None)
        for key, history in histories.items()
    }
    target = min(v for v in bests.values() if v is not None)
    print(
        f"best hand-written within 1 point: {hand_name}, {hand / 1024:.2f} KiB; "
        f"best of any run: {target / 1024:.2f} KiB"
    )
    print(f"{'sampler':8} {'seed':>4} {'best (KiB)':>11} {'to hand-written':>16} {'to 10%':>7}")
    summary: dict[str, list] = {}
    for (sampler, seed), history in histories.items():
        best = bests[sampler, seed]
        exact = trials_to(history, hand)
        close = trials_to(history, target * 1.10)
        summary.setdefault(sampler, []).append((best, exact, close))
        print(f"{sampler:8} {seed:>4} {_kib(best):>11} {_count(exact):>16} {_count(close):>7}")
    print()
    print(
        f"{'sampler':8} {'mean best (KiB)':>16} {'beat hand-written':>18} "
        f"{'mean trials to it':>18} {'within 10%':>11}"
    )
    for sampler, results in summary.items():
        found = [b for b, _, _ in results if b is not None]
        beat = [e for _, e, _ in results if e is not None]
        close = sum(1 for _, _, c in results if c is not None)
        # a run that never got there counts as the whole budget plus one
        to_beat = [e if e is not None else arguments.trials + 1 for _, e, _ in results]
        print(
            f"{sampler:8} {statistics.fmean(found) / 1024:>16.2f} "
            f"{len(beat):>12} of {len(results):<3} {statistics.fmean(to_beat):>18.1f} "
            f"{close:>7} of {len(results)}"
        )
    return 0


def _kib(value: float | None) -> str:
    return "-" if value is None else f"{value / 1024:.2f}"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
