#!/usr/bin/env bash
# One call on a lent GPU machine (at most DEADLINE, 570 s): compile every kernel instance into
# CuPy's cache, the GPU tests, an ncu profile of the int4 kernels, the benchmark against
# cuBLAS and the copy bandwidth (batch 1, 16, 64, every path, the dispatch's choice), and the
# end-to-end decoder-mlp example. Everything lands in $OUT.
#
#   bash benchmarks/cuda/device_check.sh
#
# STEPS (default "precompile tests ncu bench e2e") picks steps, e.g. STEPS="ncu bench" for a
# second call. SWEEP=1 adds the fused kernel's launch-shape sweep (and its tests): longer.
# DEADLINE (default 570 s) caps the whole call, under the 600 s a lent machine gives one
# command: each step gets at most what is left, and a step with under 30 s left is skipped
# (say so, and name the STEPS to rerun).
set -u
OUT=${OUT:-/tmp/device-out}
STEPS=${STEPS:-precompile tests ncu bench e2e}
DEADLINE=${DEADLINE:-570}
START=$SECONDS
mkdir -p "$OUT"
# seconds for a step: its cap, or what is left of the deadline; 0 when under 30 s are left
budget() { local left=$((DEADLINE - (SECONDS - START))); ((left < 30)) && echo 0 && return
  ((left < $1)) && echo "$left" || echo "$1"; }
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
  [ -d .whl/extra ] && export PYTHONPATH=$PWD/.whl/extra:$PYTHONPATH
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
export CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-/tmp/cupy-cache}
export SQUEEZEBENCH_CUDA_DISPATCH=$OUT/cuda_dispatch.json  # the calibrations, kept as output
step() {
  case " $STEPS " in *" $1 "*) ;; *) return 1 ;; esac
  LIMIT=$(budget "$2")
  if [ "$LIMIT" = 0 ]; then echo "== $1: SKIPPED, out of time (rerun with STEPS=\"$1 ...\")"; return 1; fi
}

nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem,driver_version --format=csv \
  | tee "$OUT/gpu.txt"
python3 -c "import torch, cupy; print('torch', torch.__version__, 'cupy', cupy.__version__)"

if step precompile 90; then
  echo "== precompile (every instance, one process per core)"
  timeout "$LIMIT" python3 benchmarks/cuda/precompile.py > "$OUT/precompile.txt" 2>&1
  echo "precompile exit $?"; tail -3 "$OUT/precompile.txt"
fi

if step tests 170; then
  echo "== correctness"
  SELECT=(-k "not every_launch_shape")
  [ "${SWEEP:-0}" = 1 ] && SELECT=()
  XDIST=()
  python3 -c "import xdist" 2>/dev/null && XDIST=(-n 8)
  timeout "$LIMIT" python3 -m pytest -q tests/quantized/cuda -p no:cacheprovider --maxfail=20 \
    --ignore=tests/quantized/cuda/test_compile.py \
    "${XDIST[@]}" "${SELECT[@]}" -o addopts="--import-mode=importlib" > "$OUT/pytest.txt" 2>&1
  echo "pytest exit $?"; tail -25 "$OUT/pytest.txt"
fi

if command -v ncu > /dev/null && step ncu 120; then
  echo "== ncu: int4 g128 8192x28672, fused batch 1 and wide batch 64"
  SECTIONS=(--section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats
            --section SchedulerStats --section Occupancy --section LaunchStats)
  for target in "fused 1 weight_only_gemm(<|\(|$)" "wide 64 weight_only_gemm_wide"; do
    set -- $target
    timeout $((LIMIT / 2)) ncu --clock-control none --kernel-name "regex:$3" --launch-skip 2 \
      --launch-count 2 "${SECTIONS[@]}" \
      python3 benchmarks/cuda/profile_target.py --path "$1" --batch "$2" \
      > "$OUT/ncu_$1_b$2.txt" 2>&1
    echo "ncu $1 exit $?"
    grep -E "DRAM Throughput|Memory Throughput|Duration|Registers Per|Achieved Occupancy|Stall|Issue Slots Busy|No Eligible" \
      "$OUT/ncu_$1_b$2.txt" | head -20
  done
fi

if step bench 200; then
  BENCHED=1
  echo "== kernel benchmark (every path, the dispatch's choice, fp16 cuBLAS, copy bandwidth)"
  TUNE=()
  [ "${SWEEP:-0}" = 1 ] && TUNE=(--sweep)
  timeout "$LIMIT" python3 benchmarks/cuda/weight_only_kernels.py --quick "${TUNE[@]}" --out "$OUT" \
    > "$OUT/bench.txt" 2>&1
  echo "bench exit $?"; grep -E "device|copy" "$OUT/bench.txt" | head -3
  [ -f "$OUT/tuned_configs.json" ] && export SQUEEZEBENCH_CUDA_CONFIGS=$OUT/tuned_configs.json
fi

if step e2e 150; then
  echo "== end to end"
  (cd examples/cuda && timeout "$LIMIT" python3 -m squeezebench run decoder-mlp.yaml -o "$OUT/e2e" \
    > "$OUT/e2e.txt" 2>&1; echo "e2e exit $?")
  tail -20 "$OUT/e2e.txt"
  python3 - "$OUT/e2e" <<'PY' 2>&1 | tail -8
import json, sys
import pyarrow.parquet as pq
from pathlib import Path
for path in sorted(Path(sys.argv[1]).glob("*/*.parquet")):
    for row in pq.read_table(path).to_pylist():
        for note in json.loads(row.get("runtime_notes") or "[]"):
            print(row["variant"], row["batch_size"], note)
PY
fi

if [ -n "${BENCHED:-}" ]; then
  echo "== summary ($((SECONDS - START)) s)"
  sed -n '/^summary/,$p' "$OUT/bench.txt"
fi
