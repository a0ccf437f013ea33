#!/usr/bin/env bash
# One prepared GPU run for issue 12 (the CuPy backend on a real GPU).  Run it through the device tool,
# from the repository root, with a limit that leaves room for the worst case below (~7.5 minutes):
#
#     bash benchmarks/gpu_session.sh            # device tool: command "bash benchmarks/gpu_session.sh", timeout_s 540
#
# Steps, each under its own `timeout`, each teed into $OUT (default ./gpu-out when $OUT is unset):
#   0. env.log        the GPU, CuPy, torch; stops here when scratchgan sees no GPU      (<= 60 s)
#   1. test_cuda.log  tests/test_cuda.py: CuPy vs NumPy, DCGAN step, .to, checkpoint, CLI  (<= 100 s)
#   2. bench_gpu.log  benchmarks/bench_gpu.py: DCGAN-28/64, batch 128/512, vs torch CUDA     (<= 120 s)
#   3. suite.log      the whole suite's tests on device "cuda" (the conftest DEVICES param) (<= 170 s)
# summary.txt gets each step's exit status and seconds (124: it hit its timeout).  The CPU and strict
# parametrisations are left to CI; -k cuda keeps exactly the tests that run on the CuPy backend.
set -u
OUT="${OUT:-gpu-out}"
mkdir -p "$OUT"
export PYTHONPATH=.
PY="${PYTHON:-$(command -v python3 || command -v python)}"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"

step() {  # step NAME SECONDS COMMAND...
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS
    echo "== $name: $* (timeout ${limit}s)" | tee "$OUT/$name.log"
    timeout -k 10 "$limit" "$@" 2>&1 | tee -a "$OUT/$name.log"
    local rc=${PIPESTATUS[0]}
    echo "$name rc=$rc seconds=$((SECONDS - t0))" | tee -a "$SUMMARY"
    return "$rc"
}

# -v: each test's outcome is printed as it runs, so a step cut off by its timeout still says what failed
PYTEST=("$PY" -m pytest -p no:cacheprovider -v -rfE --tb=short --durations=15 --maxfail=40)

step env 60 bash -c "nvidia-smi; $PY -c '
import sys, numpy, scratchgan as sg
print(\"python\", sys.version.split()[0], \"numpy\", numpy.__version__)
try:
    import cupy; print(\"cupy\", cupy.__version__, \"runtime\", cupy.cuda.runtime.runtimeGetVersion())
except Exception as e: print(\"cupy import failed:\", e)
try:
    import torch; print(\"torch\", torch.__version__, \"cuda\", torch.version.cuda, torch.cuda.is_available())
except Exception as e: print(\"torch import failed:\", e)
ok = sg.cuda.is_available()
print(\"scratchgan.cuda.is_available():\", ok, sg.backend._CUDA_STATE.get(\"error\", \"\"))
if ok:
    x = sg.randn(4, 3, device=\"cuda\", requires_grad=True); (x * x).sum().backward()
    print(\"smoke: grad of sum(x*x) on cuda ok:\", bool(((x.grad - 2 * x).abs().max() < 1e-6).item()))
sys.exit(0 if ok else 3)
'" || { echo "no usable GPU for scratchgan: stopping" | tee -a "$SUMMARY"; exit 3; }

step test_cuda 100 "${PYTEST[@]}" tests/test_cuda.py --junitxml="$OUT/test_cuda.xml"
# the target case (DCGAN-64, batch 512) first, so a timeout cannot cost it
step bench_gpu 120 "$PY" benchmarks/bench_gpu.py dcgan64 dcgan --batch 512 128 --steps 15 --warmup 3
step suite 170 "${PYTEST[@]}" -k cuda --ignore=tests/test_cuda.py --junitxml="$OUT/suite.xml"
cat "$SUMMARY"
