#!/usr/bin/env bash
# Issue 20's GPU figures in one call on a lent GPU machine, everything written to $OUT.
#
#   bash benchmarks/gpu_session.sh prepare   # here, once: fills .gpu/ (git ignores it)
#   bash benchmarks/gpu_session.sh           # there, with .gpu carried beside the tree
#
# `prepare` copies the four Fashion-MNIST .gz files into .gpu/data and downloads wheels of the
# pure dependencies the engine needs beyond torch (platformdirs, safetensors) into .gpu/wheels,
# for a machine whose Python has torch and triton but maybe not them. The run needs no pip
# install of the project: the import names `mlp_tui.core`/`mlp_tui.tui` are links in
# .gpu/site. It runs, each under its own time limit so that one hang cannot eat the machine:
# the fused kernels against PyTorch's step (benchmarks/gpu_kernels.py: agreement, divergence,
# 10-epoch turns, TF32, block sizes, profile) and the K=16 population against a solo epoch
# (benchmarks/population.py). DEVICE=cpu runs the same steps on the CPU, the first shortened:
# the dry run (tests/benchmarks/test_gpu_session.py).
set -u
cd "$(dirname "$0")/.."
ROOT=$PWD
GPU_DIR=${GPU_DIR:-$ROOT/.gpu}
PY=${PYTHON:-python3}

if [ "${1:-}" = prepare ]; then
    source=${2:-${MLP_TUI_DATA:-/usr/share/datasets/fashion-mnist}}
    mkdir -p "$GPU_DIR/data" "$GPU_DIR/wheels"
    for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte \
        t10k-labels-idx1-ubyte; do
        if [ ! -f "$source/$name.gz" ]; then
            echo "gpu_session: no $source/$name.gz (give the data folder: prepare DIR)" >&2
            exit 2
        fi
        cp "$source/$name.gz" "$GPU_DIR/data/"
    done
    "$PY" -m pip download -q --only-binary :all: --no-deps -d "$GPU_DIR/wheels" \
        platformdirs safetensors || exit 2
    du -sh "$GPU_DIR"
    echo "carry: [\".gpu\"]; command: bash benchmarks/gpu_session.sh"
    exit 0
fi

DEVICE=${DEVICE:-cuda}
OUT=${OUT:-$GPU_DIR/out}
DATA=${DATA:-$GPU_DIR/data}
KERNELS_S=${KERNELS_S:-330}
POPULATION_S=${POPULATION_S:-150}
mkdir -p "$OUT"
LOG=$OUT/session.log
say() { echo "== $* ($(date -u +%T))" | tee -a "$LOG"; }

say "machine"
{
    nvidia-smi -L 2>&1 || true
    "$PY" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__,
        'cuda', torch.version.cuda, torch.cuda.is_available())" 2>&1
    "$PY" -c "import triton; print('triton', triton.__version__)" 2>&1 | tail -1
} | tee -a "$LOG"

if ! "$PY" -c "import platformdirs, safetensors" 2>/dev/null; then
    say "installing platformdirs, safetensors from $GPU_DIR/wheels"
    "$PY" -m pip install -q --no-index --find-links "$GPU_DIR/wheels" platformdirs safetensors \
        2>&1 | tail -3 | tee -a "$LOG"
fi
# The import names without an install: links to the tree's folders.
mkdir -p "$GPU_DIR/site/mlp_tui"
ln -sfn "$ROOT/core" "$GPU_DIR/site/mlp_tui/core"
ln -sfn "$ROOT/tui" "$GPU_DIR/site/mlp_tui/tui"
export PYTHONPATH="$GPU_DIR/site:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export MLP_TUI_NATIVE_CACHE=${MLP_TUI_NATIVE_CACHE:-$GPU_DIR/native-cache}
export MLP_TUI_STORE=${MLP_TUI_STORE:-$GPU_DIR/runs.sqlite}

if ! "$PY" -c "import mlp_tui.core.trainer" 2>>"$LOG"; then
    say "the engine does not import; see above"
    exit 1
fi

status=0
kernels=(-m benchmarks.gpu_kernels --data-dir "$DATA" --out "$OUT" --device "$DEVICE")
population=(-m benchmarks.population --members 16 --rounds 3 --device "$DEVICE" --data-dir "$DATA")
if [ "$DEVICE" = cpu ]; then  # the dry run: every section, as short as they go
    kernels+=(--turns 1)
    population=(-m benchmarks.population --members 2 --rounds 1 --epochs 1 --device cpu
        --data-dir "$DATA")
fi

say "fused kernels against PyTorch's step (limit ${KERNELS_S} s)"
timeout -k 10 "$KERNELS_S" "$PY" "${kernels[@]}" >"$OUT/gpu_kernels.log" 2>&1 || {
    status=$?
    say "gpu_kernels ended with $status (its JSON keeps the sections done)"
}
sed -n '/^SUMMARY/,$p' "$OUT/gpu_kernels.log" | tee -a "$LOG"

say "population of 16 against a solo epoch (limit ${POPULATION_S} s)"
timeout -k 10 "$POPULATION_S" "$PY" "${population[@]}" >"$OUT/population.log" 2>&1 || {
    status=$?
    say "population ended with $status"
}
tail -8 "$OUT/population.log" | tee -a "$LOG"
say "done, status $status; files in $OUT"
exit $status
