"""Does TPE find the answer of ``examples/search-digits.yaml`` in fewer trials than random search?

For each sampler (``tpe``, ``random``) and each of ``--seeds`` seeds, the example's search runs
with that sampler and seed (in this process, ``--inline``; nothing here is timed, so the
figures do not depend on the machine's load). Then, per run:

- **best**: the smallest shipped size of a feasible trial (within 1 point of accuracy);
- **to target**: the trials it took to reach the best size any run found (the target), or
  ``-`` when it never did;
- **to 10%**: the trials it took to come within 10% of the target.

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


def run_search(sampler: str, seed: int, trials: int, folder: Path) -> list[tuple[int, float | None]]:
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
    print(f"target: {target / 1024:.2f} KiB, the smallest feasible size any run found")
    print(f"{'sampler':8} {'seed':>4} {'best (KiB)':>11} {'to target':>10} {'to 10%':>7}")
    summary: dict[str, list] = {}
    for (sampler, seed), history in histories.items():
        best = bests[sampler, seed]
        exact = trials_to(history, target)
        close = trials_to(history, target * 1.10)
        summary.setdefault(sampler, []).append((best, exact, close))
        print(
            f"{sampler:8} {seed:>4} {_kib(best):>11} {_count(exact):>10} {_count(close):>7}"
        )
    print()
    print(f"{'sampler':8} {'mean best (KiB)':>16} {'reached target':>15} {'mean to 10%':>12}")
    for sampler, results in summary.items():
        found = [b for b, _, _ in results if b is not None]
        reached = sum(1 for _, e, _ in results if e is not None)
        # a run that never came within 10% counts as the whole budget plus one
        close = [c if c is not None else arguments.trials + 1 for _, _, c in results]
        print(
            f"{sampler:8} {statistics.fmean(found) / 1024:>16.2f} "
            f"{reached:>9} of {len(results):<3} {statistics.fmean(close):>12.1f}"
        )
    return 0


def _kib(value: float | None) -> str:
    return "-" if value is None else f"{value / 1024:.2f}"


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
