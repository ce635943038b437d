#!/usr/bin/env bash
# The GPU path end to end on a CUDA machine, within 8 minutes (docs/gpu.md). Lent GPU machines reach no package
# registry: `make gpu-bundle` first puts what their image lacks into the git-ignored .whl/, which the call carries.
#   bash scripts/gpu_check.sh [--out DIR]     install .whl/ offline into a temporary --target (the image's CUDA
#                                             torch stays), then: preflight imports, index back-ends (torch on
#                                             CUDA vs CPU; FAISS where installed), one short experiment
#                                             (logger=none), bench-select, bench-train (iterations
#                                             0-2 of each trainer) and a short bench-sweep. Results: DIR (default
#                                             benchmarks/gpu; on a lent machine "$OUT"), at most 8 files.
#   bash scripts/gpu_check.sh --dry-run [--smoke] [--out DIR]
#                                             print the steps; install .whl/ exactly as on the device (when it
#                                             exists) and run the CPU part with that install: preflight and the
#                                             back-end check (--smoke: also a tiny experiment on the CPU). Default
#                                             DIR: $TMPDIR/al-bert-gpu-check-dry-run. `make gpu-bundle-check` runs
#                                             this in a Python 3.12 environment holding only the image's packages.
# Environment: PYTHON (default python3, the image's), GPU_CHECK_BUDGET_S (default 480), GPU_BUNDLE (default .whl).
# shellcheck disable=SC2317  # the step functions run through bash -c
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$PWD"
DRY=0
SMOKE=0
OUT=""
while (($#)); do
  case "$1" in
    --out) OUT="${2:?--out needs a folder}"; shift 2 ;;
    --out=*) OUT="${1#--out=}"; shift ;;
    --dry-run) DRY=1; shift ;;
    --smoke) SMOKE=1; shift ;;
    -h | --help) awk 'NR > 1 && /^#/ && !/shellcheck/ {print; next} NR > 1 {exit}' "$0"; exit 0 ;;
    *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ((DRY)); then OUT="${OUT:-${TMPDIR:-/tmp}/al-bert-gpu-check-dry-run}"; else OUT="${OUT:-benchmarks/gpu}"; fi
PY="${PYTHON:-python3}"
BUNDLE="${GPU_BUNDLE:-.whl}"
BUDGET_S="${GPU_CHECK_BUDGET_S:-480}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/al-bert-gpu-check.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
SITE="$WORK/site"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/gpu_check.log"
: >"$LOG"

# Offline and quiet: data from the bundle's mirror copy (else ../shared/datasets), no downloads, no W&B.
if [[ -d "$BUNDLE/datasets" ]]; then
  AL_BERT_DATA_MIRROR="$(cd "$BUNDLE/datasets" && pwd)"
  export AL_BERT_DATA_MIRROR
else
  export AL_BERT_DATA_MIRROR="${AL_BERT_DATA_MIRROR:-$(cd .. && pwd)/shared/datasets}"
fi
export AL_BERT_OFFLINE=1 AL_BERT_CACHE_DIR="$WORK/cache" HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
export WANDB_MODE=disabled WANDB_SILENT=true PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
# The image's torch and everything else it has stay; the bundle's wheels and the working tree come first.
export PYTHONPATH="$SITE:$REPO${PYTHONPATH:+:$PYTHONPATH}"

install_bundle() {
  if ! ls "$BUNDLE"/*.whl >/dev/null 2>&1; then
    echo "no wheels in $BUNDLE/ (make gpu-bundle): using this environment's packages as they are"
    return 0
  fi
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
    "$BUNDLE"/*.whl
  "$PY" scripts/gpu_check.py --restore-minilm "$SITE"
  ls "$BUNDLE"/*.whl | sed 's|.*/|  installed |'
}

cuda_info() {
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  "$PY" -c 'import sys, torch
assert torch.cuda.is_available(), "no CUDA GPU visible"
print(f"python {sys.version.split()[0]}, torch {torch.__version__} (CUDA {torch.version.cuda}),",
      torch.cuda.get_device_name(0), f"{torch.cuda.get_device_properties(0).total_memory / 2**30:.0f} GiB")'
}

keep_run() {  # the experiment's records come back as experiment.jsonl; its run.json goes to the log
  local run
  run="$(ls -d "$WORK"/run/runs/*/ | head -1)"
  cat "$run/run.json"
  cp "$run/results.jsonl" "$1/experiment.jsonl"
}

bench_train() {  # ---- bench-train: iterations 0-2 of each trainer's run; 1 result file (8 at most in all)
  "$PY" scripts/bench_train.py --out "$1" --suffix _gpu --iterations 2 && rm -f "$1/train_gpu.md"
}

# name|seconds at most|command: run by bash -c (so $WORK stays as written in the plan); @OUT@ is the results folder.
# The limits are caps, clipped to what is left of GPU_CHECK_BUDGET_S; timings on an H100 are not yet measured.
GPU_STEPS=(
  "cuda|30|cuda_info"
  "install|60|install_bundle"
  "preflight|90|$PY scripts/gpu_check.py --preflight"
  "backends|90|$PY scripts/gpu_check.py --out @OUT@"
  "experiment|90|$PY -m al_bert limit.train=2000 limit.eval=500 al.iterations=2 seed_builder.size=40 seed_builder.weak_negatives=40 strategy=badge logger=none print_table=false paths.output_root=\$WORK/run && keep_run @OUT@"
  "bench-select|180|$PY scripts/bench_select.py --out @OUT@ --suffix _gpu --repeats 1 --max-seconds 40 && rm -f @OUT@/select_gpu.md"
  "bench-train|120|bench_train @OUT@"
  "bench-sweep|150|$PY scripts/bench_sweep.py --out \$WORK/sweep --workdir \$WORK/sweep-runs --iterations 2 --strategies random least_confidence core_set badge --sst2-limit 20000 && cp \$WORK/sweep/sweep.json @OUT@/sweep_gpu.json"
)
if ((DRY)); then
  STEPS=("${GPU_STEPS[@]:1:3}")  # install, preflight, backends: the CPU part
  if ((SMOKE)); then
    STEPS+=("smoke|300|$PY -m al_bert model=tiny trainer.max_epochs=1 limit.train=300 limit.eval=100 al.iterations=1 al.batch_size=10 seed_builder.size=20 seed_builder.weak_negatives=20 strategy=badge logger=none print_table=false paths.output_root=\$WORK/run && keep_run @OUT@")
  fi
  PLAN_OUT=benchmarks/gpu
else
  STEPS=("${GPU_STEPS[@]}")
  PLAN_OUT="${OUT#"$REPO"/}"
fi
# Steps whose failure makes the rest pointless.
FATAL=" cuda install preflight "

printf 'gpu_check: on the GPU, within %s s:\n' "$BUDGET_S" | tee -a "$LOG"
for step in "${GPU_STEPS[@]}"; do
  IFS='|' read -r name cap command <<<"$step"
  printf '  %-13s %4s s  %s\n' "$name" "$cap" "${command//@OUT@/$PLAN_OUT}" | tee -a "$LOG"
done
if ((DRY)); then
  printf 'gpu_check --dry-run: now the CPU part, with %s:\n' "$PY" | tee -a "$LOG"
fi

export -f install_bundle cuda_info keep_run bench_train
export PY SITE BUNDLE WORK OUT
RESULTS=()
STARTED=$SECONDS
FAILED=0
for step in "${STEPS[@]}"; do
  IFS='|' read -r name cap command <<<"$step"
  command="${command//@OUT@/$(printf '%q' "$OUT")}"
  left=$((BUDGET_S - (SECONDS - STARTED)))
  if ((left < 15)); then
    echo "== $name: skipped, the ${BUDGET_S} s budget is spent" | tee -a "$LOG"
    RESULTS+=("$name|skipped|0|$cap")
    continue
  fi
  ((cap > left)) && cap=$left
  echo "== $name (at most $cap s): $command" | tee -a "$LOG"
  t0=$SECONDS
  set +e
  timeout -k 10 "$cap" bash -c "set -euo pipefail; $command" 2>&1 | tee -a "$LOG"
  rc=${PIPESTATUS[0]}
  set -e
  status=ok
  ((rc == 124 || rc == 137)) && status=timeout
  ((rc != 0)) && [[ $status == ok ]] && status="failed ($rc)"
  echo "== $name: $status in $((SECONDS - t0)) s" | tee -a "$LOG"
  RESULTS+=("$name|$status|$((SECONDS - t0))|$cap")
  if [[ $status != ok ]]; then
    FAILED=1
    if [[ $FATAL == *" $name "* ]]; then
      echo "== $name is needed by every later step: stopping" | tee -a "$LOG"
      break
    fi
  fi
done

"$PY" - "$OUT/summary.json" "$DRY" "$((SECONDS - STARTED))" "${RESULTS[@]}" <<'EOF' | tee -a "$LOG"
import json, platform, sys
from pathlib import Path
path, dry, total, rows = Path(sys.argv[1]), sys.argv[2] == "1", int(sys.argv[3]), sys.argv[4:]
steps = [dict(zip(("step", "status", "seconds", "limit_seconds"), r.split("|"))) for r in rows]
for s in steps:
    s["seconds"], s["limit_seconds"] = int(s["seconds"]), int(s["limit_seconds"])
summary = {"dry_run": dry, "python": platform.python_version(), "seconds": total, "steps": steps,
           "all_ok": all(s["status"] == "ok" for s in steps)}
try:
    from importlib.metadata import version
    summary["torch"] = version("torch")
except Exception as error:  # noqa: BLE001 - report, never fail the summary
    summary["torch"] = f"unknown: {error}"
path.write_text(json.dumps(summary, indent=1) + "\n")
print("gpu_check:", " · ".join(f"{s['step']} {s['status']} {s['seconds']}s" for s in steps))
EOF
files=$(find "$OUT" -type f | wc -l)
echo "gpu_check: $files files in $OUT$( ((files > 8)) && echo ' (more than the 8 a device call brings back)')" | tee -a "$LOG"
exit "$FAILED"
