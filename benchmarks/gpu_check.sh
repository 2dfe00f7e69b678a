#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one script (under 8 minutes on one H100):
#   1. train the baby-gpu preset to its target (best validation loss below 1.50; nanoGPT's
#      README reports about 1.47 for this configuration);
#   2. benchmarks/bench_train.py on CUDA (milliseconds per step, tokens/s, memory, MFU);
#   3. the fp16 path (fp16 autocast + GradScaler): 300 steps, finite and falling loss;
#   4. DDP under torchrun over every GPU, when there are more than one.
# Results go to benchmarks/results/ (gpu_check_<gpu>.json and train_baby-gpu_cuda*.json).
# Run from the repository root:  bash benchmarks/gpu_check.sh
# Tests never need it; without CUDA it refuses and exits 2.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python}"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
RESULTS="$ROOT/benchmarks/results"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TARGET=1.50

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
    echo "gpu_check.sh: $PYTHON cannot import torch; set PYTHON to the environment's python." >&2
    exit 2
fi
if ! "$PYTHON" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    echo "gpu_check.sh: no CUDA GPU visible to torch (torch.cuda.is_available() is False);" >&2
    echo "  run it on a machine with an NVIDIA GPU and the CUDA build of torch." >&2
    exit 2
fi
GPUS="$("$PYTHON" -c "import torch; print(torch.cuda.device_count())")"
GPU_NAME="$("$PYTHON" -c "import torch; print(torch.cuda.get_device_name(0))")"
SLUG="$(echo "$GPU_NAME" | tr -cs 'A-Za-z0-9' '-' | sed 's/-$//' | tr 'A-Z' 'a-z')"
echo "== $GPUS x $GPU_NAME"
START=$SECONDS

echo "== 1/4 baby-gpu to its target (validation loss < $TARGET)"
T0=$SECONDS
timeout 300 "$PYTHON" -m llmbook.train --preset baby-gpu --out-dir "$WORK/baby" --quiet
BABY_SECONDS=$((SECONDS - T0))

echo "== 2/4 bench_train.py on CUDA"
timeout 120 "$PYTHON" benchmarks/bench_train.py --preset baby-gpu --device cuda \
    --out "$RESULTS/train_baby-gpu_cuda_${SLUG}.json"

echo "== 3/4 fp16 autocast with GradScaler"
timeout 90 "$PYTHON" -m llmbook.train --preset baby-gpu --precision fp16 --max-steps 300 \
    --eval-interval 100 --out-dir "$WORK/fp16" --quiet

DDP_SECONDS=null
if [ "$GPUS" -gt 1 ]; then
    echo "== 4/4 DDP on $GPUS GPUs"
    T0=$SECONDS
    timeout 120 torchrun --standalone --nproc_per_node="$GPUS" -m llmbook.train \
        --preset baby-gpu --max-steps 300 --eval-interval 100 --out-dir "$WORK/ddp" --quiet
    DDP_SECONDS=$((SECONDS - T0))
else
    echo "== 4/4 DDP skipped: one GPU"
fi

"$PYTHON" - "$WORK" "$RESULTS/gpu_check_${SLUG}.json" "$TARGET" "$BABY_SECONDS" \
    "$DDP_SECONDS" "$GPUS" "$GPU_NAME" "$((SECONDS - START))" <<'PY'
import json, math, sys
from pathlib import Path

import torch

from llmbook.checkpoint import write_text_atomic

work, out, target, baby_s, ddp_s, gpus, name, total_s = sys.argv[1:]
target = float(target)


def losses(run: str) -> list[float]:
    path = Path(work) / run / "log.json"
    return [e["val_loss"] for e in json.loads(path.read_text())["evaluations"]] if path.exists() else []


baby, fp16, ddp = losses("baby"), losses("fp16"), losses("ddp")
checks = {
    "baby_gpu_reaches_target": bool(baby) and min(baby) < target,
    "fp16_finite_and_falling": len(fp16) >= 2 and all(map(math.isfinite, fp16)) and fp16[-1] < fp16[0],
    "ddp_finite_and_falling": None if ddp_s == "null" else (len(ddp) >= 2 and ddp[-1] < ddp[0]),
}
result = {
    "benchmark": "benchmarks/gpu_check.sh: baby-gpu to its target, fp16, DDP",
    "gpu": name,
    "gpus": int(gpus),
    "torch": torch.__version__,
    "cuda": torch.version.cuda,
    "target_val_loss": target,
    "baby_gpu": {"best_val_loss": min(baby) if baby else None, "final_val_loss": baby[-1] if baby else None,
                 "seconds": int(baby_s)},
    "fp16_val_losses": fp16,
    "ddp": None if ddp_s == "null" else {"val_losses": ddp, "seconds": int(ddp_s)},
    "checks": checks,
    "total_seconds": int(total_s),
}
write_text_atomic(json.dumps(result, indent=2) + "\n", Path(out))
print(json.dumps(result, indent=2))
failed = [k for k, ok in checks.items() if ok is False]
if failed:
    print(f"gpu_check.sh: FAILED {failed}", file=sys.stderr)
    sys.exit(1)
PY
echo "== gpu_check.sh passed in $((SECONDS - START)) s; results in $RESULTS"
