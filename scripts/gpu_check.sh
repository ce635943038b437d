#!/usr/bin/env bash
# The GPU path end to end, on a machine with a CUDA GPU; results under benchmarks/gpu/ (about 10 minutes).
#   bash scripts/gpu_check.sh            install the GPU extra, then: one short experiment end to end,
#                                        bench-select and bench-sweep on the GPU, and faiss-gpu vs torch
#                                        picking the same batches (scripts/gpu_check.py)
#   bash scripts/gpu_check.sh --dry-run  print the steps, and run the back-end check with what this
#                                        machine has (the CPU part; CI runs this)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=benchmarks/gpu
export AL_BERT_DATA_MIRROR="${AL_BERT_DATA_MIRROR:-$(cd .. && pwd)/shared/datasets}"
export WANDB_MODE=offline WANDB_SILENT=true HF_HUB_OFFLINE=1
PY="${PYTHON:-python}"
steps=(
  "$PY -c 'import torch; assert torch.cuda.is_available(), \"no CUDA GPU visible\"; print(torch.cuda.get_device_name(0))'"
  "$PY -m pip uninstall -y faiss-cpu && $PY -m pip install -e '.[gpu]'"
  "$PY -m al_bert limit.train=2000 limit.eval=500 al.iterations=2 seed_builder.size=40 seed_builder.weak_negatives=40 paths.output_root=$OUT/run logger=none strategy=badge"
  "$PY scripts/bench_select.py --out $OUT --suffix _gpu --repeats 1"
  "$PY scripts/bench_sweep.py --out $OUT --iterations 2"
  "$PY scripts/gpu_check.py --out $OUT"
)
if [[ "${1:-}" == "--dry-run" ]]; then
  printf 'would run:\n'; printf '  %s\n' "${steps[@]}"
  exec $PY scripts/gpu_check.py --out "${TMPDIR:-/tmp}/al-bert-gpu-check-dry-run"
fi
mkdir -p "$OUT"
for step in "${steps[@]}"; do
  echo "+ $step" | tee -a "$OUT/gpu_check.log"
  eval "$step" 2>&1 | tee -a "$OUT/gpu_check.log"
done
