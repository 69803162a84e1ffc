#!/usr/bin/env bash
# One call on a lent GPU machine: kernel correctness tests, the kernel benchmark (with the
# launch-shape sweep) and the end-to-end CUDA example. Everything lands in $OUT.
# Run from the repository root: bash benchmarks/cuda/device_check.sh [--quick]
# SWEEP=0 skips the launch-shape sweep (and its tests), for a shorter call.
set -u
OUT=${OUT:-/tmp/device-out}
mkdir -p "$OUT"
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
  [ -d .whl/extra ] && export PYTHONPATH=$PWD/.whl/extra:$PYTHONPATH
fi
export PYTHONPATH=$PWD/src:${PYTHONPATH:-}
nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.mem,driver_version --format=csv \
  | tee "$OUT/gpu.txt"
python3 -c "import torch, cupy; print('torch', torch.__version__, 'cupy', cupy.__version__)"

echo "== correctness"
SELECT=()
[ "${SWEEP:-1}" = 0 ] && SELECT=(-k "not every_launch_shape")
timeout 150 python3 -m pytest -q -x tests/quantized/cuda -p no:cacheprovider "${SELECT[@]}" \
  -o addopts="--import-mode=importlib" > "$OUT/pytest.txt" 2>&1
echo "pytest exit $?"; tail -25 "$OUT/pytest.txt"

echo "== kernel benchmark"
TUNE=(--sweep)
[ "${SWEEP:-1}" = 0 ] && TUNE=()
timeout 200 python3 benchmarks/cuda/weight_only_kernels.py "${TUNE[@]}" "$@" --out "$OUT" \
  > "$OUT/bench.txt" 2>&1
echo "bench exit $?"; grep -E "sweep|device|tiles|in use" "$OUT/bench.txt" | tail -40
[ -f "$OUT/tuned_configs.json" ] && export SQUEEZEBENCH_CUDA_CONFIGS=$OUT/tuned_configs.json

echo "== end to end"
(cd examples/cuda && timeout 170 python3 -m squeezebench run decoder-mlp.yaml -o "$OUT/e2e" \
  > "$OUT/e2e.txt" 2>&1; echo "e2e exit $?")
tail -32 "$OUT/e2e.txt"
echo "== summary"
sed -n '/^summary/,$p' "$OUT/bench.txt"
