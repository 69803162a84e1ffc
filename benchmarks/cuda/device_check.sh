#!/usr/bin/env bash
# One call on a lent GPU machine (about 6-9 minutes): compile every kernel instance into
# CuPy's cache, the GPU tests, an ncu profile of the int4 kernels, the benchmark against
# cuBLAS and the copy bandwidth (batch 1, 16, 64, every path, the dispatch's choice), and the
# end-to-end decoder-mlp example. Everything lands in $OUT.
#
#   bash benchmarks/cuda/device_check.sh
#
# STEPS (default "precompile tests ncu bench e2e") picks steps, e.g. STEPS="ncu bench" for a
# second call. SWEEP=1 adds the fused kernel's launch-shape sweep (and its tests): longer.
set -u
OUT=${OUT:-/tmp/device-out}
STEPS=${STEPS:-precompile tests ncu bench e2e}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
  [ -d .whl/extra ] && export PYTHONPATH=$PWD/.whl/extra:$PYTHONPATH
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
export CUPY_CACHE_DIR=${CUPY_CACHE_DIR:-/tmp/cupy-cache}
export SQUEEZEBENCH_CUDA_DISPATCH=$OUT/cuda_dispatch.json  # the calibrations, kept as output
step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem,driver_version --format=csv \
  | tee "$OUT/gpu.txt"
python3 -c "import torch, cupy; print('torch', torch.__version__, 'cupy', cupy.__version__)"

if step precompile; then
  echo "== precompile (every instance, one process per core)"
  timeout 150 python3 benchmarks/cuda/precompile.py > "$OUT/precompile.txt" 2>&1
  echo "precompile exit $?"; tail -3 "$OUT/precompile.txt"
fi

if step tests; then
  echo "== correctness"
  SELECT=(-k "not every_launch_shape")
  [ "${SWEEP:-0}" = 1 ] && SELECT=()
  XDIST=()
  python3 -c "import xdist" 2>/dev/null && XDIST=(-n 8)
  timeout 200 python3 -m pytest -q tests/quantized/cuda -p no:cacheprovider --maxfail=20 \
    "${XDIST[@]}" "${SELECT[@]}" -o addopts="--import-mode=importlib" > "$OUT/pytest.txt" 2>&1
  echo "pytest exit $?"; tail -25 "$OUT/pytest.txt"
fi

if step ncu && command -v ncu > /dev/null; then
  echo "== ncu: int4 g128 8192x28672, fused batch 1 and wide batch 64"
  SECTIONS=(--section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats
            --section SchedulerStats --section Occupancy --section LaunchStats)
  for target in "fused 1 weight_only_gemm(<|\(|$)" "wide 64 weight_only_gemm_wide"; do
    set -- $target
    timeout 90 ncu --clock-control none --kernel-name "regex:$3" --launch-skip 2 \
      --launch-count 2 "${SECTIONS[@]}" \
      python3 benchmarks/cuda/profile_target.py --path "$1" --batch "$2" \
      > "$OUT/ncu_$1_b$2.txt" 2>&1
    echo "ncu $1 exit $?"
    grep -E "DRAM Throughput|Memory Throughput|Duration|Registers Per|Achieved Occupancy|Stall|Issue Slots Busy|No Eligible" \
      "$OUT/ncu_$1_b$2.txt" | head -20
  done
fi

if step bench; then
  echo "== kernel benchmark (every path, the dispatch's choice, fp16 cuBLAS, copy bandwidth)"
  TUNE=()
  [ "${SWEEP:-0}" = 1 ] && TUNE=(--sweep)
  timeout 240 python3 benchmarks/cuda/weight_only_kernels.py --quick "${TUNE[@]}" --out "$OUT" \
    > "$OUT/bench.txt" 2>&1
  echo "bench exit $?"; grep -E "device|copy" "$OUT/bench.txt" | head -3
  [ -f "$OUT/tuned_configs.json" ] && export SQUEEZEBENCH_CUDA_CONFIGS=$OUT/tuned_configs.json
fi

if step e2e; then
  echo "== end to end"
  (cd examples/cuda && timeout 170 python3 -m squeezebench run decoder-mlp.yaml -o "$OUT/e2e" \
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

if step bench; then
  echo "== summary"
  sed -n '/^summary/,$p' "$OUT/bench.txt"
fi
