#!/usr/bin/env bash
# The CUDA path, proven on one GPU in about 5 minutes: run by hand where a CUDA GPU is at hand,
# then copy the figures it writes into docs/audit.md and docs/training.md.
#
#   bash benchmarks/cuda_check.sh [OUT]          # OUT defaults to out/cuda-check
#
# It runs, each step timed and its exit status kept:
#   1. the headline command on the GPU from an empty cache: fgav audit --backbone swin
#      --head depth (SynthSpoof, the default Swin target and its SFA module are made first);
#   2. a two-rank torchrun evaluation and a two-rank torchrun audit of that target, each of which
#      must equal the one-process one (on two GPUs where there are two; on one GPU, whose ranks
#      NCCL cannot share, the two ranks run on the CPU, with gloo, against a one-process CPU run);
#   3. training speed: one epoch of the default ResNet-18 recipe in fp32 against bf16 autocast
#      with channels_last (FGAV_PRECISION=fp32 turns both off), side by side;
#   4. the audit's speed and numbers in fp32 against bf16 autocast (the audit itself runs in
#      fp32: see docs/audit.md), FGSM and PGD on every part of the target.
# Everything goes to OUT/: one log per step and figures.json with every figure.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/cuda-check}
mkdir -p "$OUT"
PY=${PYTHON:-python}
command -v fgav >/dev/null && FGAV=(fgav) || FGAV=("$PY" -m fgav)
export FGAV_CACHE=${FGAV_CACHE:-$(mktemp -d)}  # an empty cache: the first run a newcomer gets
export FGAV_PROGRESS_SECONDS=15
"$PY" - <<'EOF' || { echo "no CUDA device: this check needs one" >&2; exit 2; }
import torch
assert torch.cuda.is_available()
print("device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
EOF

declare -A SECONDS_OF STATUS_OF
step() {  # step NAME COMMAND...: run, time, keep the exit status and the log
  local name=$1; shift
  local start=$(date +%s%N)
  "$@" >"$OUT/$name.log" 2>&1
  STATUS_OF[$name]=$?
  SECONDS_OF[$name]=$(awk -v a="$start" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  echo "$name: exit ${STATUS_OF[$name]}, ${SECONDS_OF[$name]} s"
}

step headline "${FGAV[@]}" audit --backbone swin --head depth --device cuda --json "$OUT/headline.json"
SWIN=$(ls -d "$FGAV_CACHE"/models/swin-* 2>/dev/null | head -1)
RANKS_ON=$("$PY" -c "import torch; print('cuda' if torch.cuda.device_count() >= 2 else 'cpu')")
step evaluate_one "${FGAV[@]}" evaluate --checkpoint "$SWIN" --device "$RANKS_ON" --json "$OUT/evaluate_one.json"
step evaluate_two torchrun --nproc_per_node=2 -m fgav evaluate --checkpoint "$SWIN" --device "$RANKS_ON" \
  --json "$OUT/evaluate_two.json"
AUDIT_ARGS=(--checkpoint "$SWIN" --head classification --head depth --attack fgsm --attack pgd
            --attack-option pgd.steps=10 --augmenter none --limit 64 --device "$RANKS_ON")
step audit_one "${FGAV[@]}" audit "${AUDIT_ARGS[@]}" --json "$OUT/audit_one.json"
step audit_two torchrun --nproc_per_node=2 -m fgav audit "${AUDIT_ARGS[@]}" --json "$OUT/audit_two.json"
step train_bf16 "${FGAV[@]}" train --backbone resnet18 --epochs 1 --device cuda --overwrite --out "$OUT/r18-bf16"
step train_fp32 env FGAV_PRECISION=fp32 "${FGAV[@]}" train --backbone resnet18 --epochs 1 --device cuda --overwrite \
  --out "$OUT/r18-fp32"
step audit_precision "$PY" - "$SWIN" "$OUT/audit_precision.json" <<'EOF'
import json, sys, time, torch, fgav
checkpoint, out = sys.argv[1], sys.argv[2]
model = fgav.load_model(checkpoint, device="cuda")
figures = {}
for name, context in (("fp32", torch.autocast("cuda", enabled=False)),
                      ("bf16", torch.autocast("cuda", dtype=torch.bfloat16))):
    torch.cuda.synchronize(); start = time.perf_counter()
    with context:
        result = fgav.audit(model, "synth", heads="all", attacks=["fgsm", "pgd"], eps=[8 / 255], limit=256,
                            device="cuda", augmenters=["none"])
    torch.cuda.synchronize()
    figures[name] = {"seconds": time.perf_counter() - start,
                     "asr": {f"{r['part']}/{r['attack']}": r["asr"] for r in result.results},
                     "flags": sorted({f["code"] for r in result.results for f in r.get("flags", [])})}
figures["fp32_over_bf16_time"] = figures["fp32"]["seconds"] / figures["bf16"]["seconds"]
figures["largest_asr_difference"] = max(abs(figures["fp32"]["asr"][k] - figures["bf16"]["asr"][k])
                                        for k in figures["fp32"]["asr"])
json.dump(figures, open(out, "w"), indent=2)
print(json.dumps(figures, indent=2))
EOF

"$PY" - "$OUT" <<EOF
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
def load(name):
    try:
        return json.loads((out / name).read_text())
    except (OSError, ValueError):
        return None
one, two = load("evaluate_one.json"), load("evaluate_two.json")
def metrics(r):
    return None if r is None else {k: r.get(k) for k in ("accuracy", "mse", "fas", "n")}
def audited(r):  # what must not depend on the number of ranks: every count, rate and flag
    return None if r is None else [{k: e.get(k) for k in ("part", "attack", "epsilon", "n", "asr", "outcomes", "flags")}
                                   for e in r["results"]]
audit_one, audit_two = load("audit_one.json"), load("audit_two.json")
def images_per_s(run):
    try:
        lines = (out / run / "metrics.jsonl").read_text().splitlines()
        return json.loads(lines[-1])["images_per_s"]
    except (OSError, ValueError, KeyError, IndexError):
        return None
bf16, fp32 = images_per_s("r18-bf16"), images_per_s("r18-fp32")
headline = load("headline.json")
figures = {
    "seconds": {$(for k in "${!SECONDS_OF[@]}"; do printf '"%s": %s, ' "$k" "${SECONDS_OF[$k]}"; done)},
    "exit": {$(for k in "${!STATUS_OF[@]}"; do printf '"%s": %s, ' "$k" "${STATUS_OF[$k]}"; done)},
    "headline_asr": None if headline is None else {f"{r['part']}/{r['augmenter']}": r["asr"] for r in headline["results"]},
    "ranks_on": "$RANKS_ON",
    "two_ranks_equal_one": metrics(one) is not None and metrics(one) == metrics(two),
    "two_rank_audit_equals_one": audited(audit_one) is not None and audited(audit_one) == audited(audit_two),
    "train_images_per_s": {"bf16_channels_last": bf16, "fp32": fp32},
    "train_bf16_speedup": None if not (bf16 and fp32) else bf16 / fp32,
    "audit_precision": load("audit_precision.json"),
}
(out / "figures.json").write_text(json.dumps(figures, indent=2))
print(json.dumps(figures, indent=2))
EOF
