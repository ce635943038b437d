"""Fetching: cache → mirror → download, checksums, atomic writes, clear errors."""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from al_bert.data.fetch import ChecksumError, DataUnavailableError, FetchSettings, resolve
from al_bert.data.sources import LRTC_ID_FILES, SOURCES, get_file, lrtc_id_file


def _mirror() -> Path:
    env = os.environ.get("AL_BERT_DATA_MIRROR")
    return Path(env) if env else Path(__file__).parents[1].parent / "shared" / "datasets"


MIRROR = _mirror()
pytestmark = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"offline mirror missing: {MIRROR}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_mirror_plain_file_is_used_in_place(tmp_path: Path) -> None:
    spec = get_file("trec", "TREC_10.label")
    path = resolve(spec, FetchSettings(cache_dir=tmp_path, mirror=MIRROR, download=False))
    assert path == MIRROR / "trec" / "TREC_10.label"
    assert _sha256(path) == spec.sha256


def test_mirror_gz_is_decompressed_into_the_cache(tmp_path: Path) -> None:
    spec = get_file("isear", "isear.csv")
    settings = FetchSettings(cache_dir=tmp_path, mirror=MIRROR, download=False)
    path = resolve(spec, settings)
    assert path == tmp_path / "isear" / "isear.csv"
    assert _sha256(path) == spec.sha256
    # second call: served from the cache even without a mirror
    again = resolve(
        spec, FetchSettings(cache_dir=tmp_path, mirror=tmp_path / "none", download=False)
    )
    assert again == path
    assert not list((tmp_path / "isear").glob(".tmp-*"))


def test_every_mirrored_file_matches_its_registered_checksum(tmp_path: Path) -> None:
    settings = FetchSettings(cache_dir=tmp_path, mirror=MIRROR, download=False)
    checked = 0
    for source in SOURCES.values():
        for spec in source.files.values():
            if (MIRROR / spec.source / spec.name).is_file() or (
                MIRROR / spec.source / f"{spec.name}.gz"
            ).is_file():
                resolve(spec, settings)
                checked += 1
    assert checked == 13  # rt-polarity 2, subjectivity 2, trec 2, cola 3, isear, ag test, sst2 2
    for name in LRTC_ID_FILES:
        folder, _, file = name.rpartition("/")
        resolve(lrtc_id_file(folder, file.removesuffix("_ids.csv")), settings)


def test_corrupt_mirror_file_names_file_and_expected_checksum(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "trec").mkdir(parents=True)
    data = bytearray((MIRROR / "trec" / "TREC_10.label").read_bytes())
    data[100] ^= 0x01
    (mirror / "trec" / "TREC_10.label").write_bytes(bytes(data))
    spec = get_file("trec", "TREC_10.label")
    with pytest.raises(ChecksumError) as err:
        resolve(spec, FetchSettings(cache_dir=tmp_path / "cache", mirror=mirror, download=False))
    assert "trec/TREC_10.label" in str(err.value)
    assert str(spec.sha256) in str(err.value)


def test_truncated_gz_in_mirror_is_rejected(tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    (mirror / "isear").mkdir(parents=True)
    blob = (MIRROR / "isear" / "isear.csv.gz").read_bytes()
    (mirror / "isear" / "isear.csv.gz").write_bytes(blob[: len(blob) // 2])
    with pytest.raises(ChecksumError, match=r"isear/isear\.csv"):
        resolve(
            get_file("isear", "isear.csv"),
            FetchSettings(cache_dir=tmp_path / "cache", mirror=mirror, download=False),
        )
    assert not (tmp_path / "cache" / "isear" / "isear.csv").exists()


def test_corrupt_cache_copy_is_replaced_from_the_mirror(tmp_path: Path) -> None:
    target = tmp_path / "isear" / "isear.csv"
    target.parent.mkdir(parents=True)
    target.write_bytes(b"garbage")
    spec = get_file("isear", "isear.csv")
    path = resolve(spec, FetchSettings(cache_dir=tmp_path, mirror=MIRROR, download=False))
    assert _sha256(path) == spec.sha256


def test_offline_without_copy_names_file_url_and_destination(tmp_path: Path) -> None:
    spec = get_file("ag_news", "train.csv")
    with pytest.raises(DataUnavailableError) as err:
        resolve(spec, FetchSettings(cache_dir=tmp_path, mirror=MIRROR, download=False))
    msg = str(err.value)
    assert "ag_news/train.csv" in msg
    assert str(spec.url) in msg
    assert str(tmp_path / "ag_news" / "train.csv") in msg


def test_env_offline_flag_disables_downloads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AL_BERT_OFFLINE", "1")
    with pytest.raises(DataUnavailableError, match="downloads are disabled"):
        resolve(
            get_file("dbpedia_14", "test.csv"), FetchSettings(cache_dir=tmp_path, mirror=MIRROR)
        )


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AL_BERT_CACHE_DIR", str(tmp_path / "envcache"))
    path = resolve(get_file("sst2", "train.tsv"), FetchSettings(mirror=MIRROR, download=False))
    assert path == tmp_path / "envcache" / "sst2" / "train.tsv"


# --------------------------------------------------------------------------- real HTTP downloads


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """An ``http.server`` on 127.0.0.1 (free port) serving a temp copy of some mirror files."""
    root = tmp_path / "www"
    for rel in ("trec/TREC_10.label", "isear/isear.csv.gz", "cola/cola_public_1.1.zip"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MIRROR / rel, root / rel)
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.network
def test_download_verifies_and_caches(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    spec = get_file("trec", "TREC_10.label").with_url(f"{url}/trec/TREC_10.label")
    cache = tmp_path / "cache"
    settings = FetchSettings(cache_dir=cache, mirror=tmp_path / "empty", download=True)
    path = resolve(spec, settings)
    assert path == cache / "trec" / "TREC_10.label"
    assert _sha256(path) == spec.sha256
    assert not list(path.parent.glob(".tmp-*"))
    # cached: a second resolve needs no server
    dead = spec.with_url("http://127.0.0.1:9/nothing")
    assert resolve(dead, settings) == path


@pytest.mark.network
def test_download_with_flipped_byte_is_rejected(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    served_file = root / "trec" / "TREC_10.label"
    data = bytearray(served_file.read_bytes())
    data[len(data) // 2] ^= 0x20
    served_file.write_bytes(bytes(data))
    spec = get_file("trec", "TREC_10.label").with_url(f"{url}/trec/TREC_10.label")
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError) as err:
        resolve(spec, FetchSettings(cache_dir=cache, mirror=tmp_path / "empty", download=True))
    assert "trec/TREC_10.label" in str(err.value)
    assert f"sha256 {spec.sha256}" in str(err.value)
    assert not (cache / "trec" / "TREC_10.label").exists()  # nothing half-written is cached
    assert not list((cache / "trec").glob(".tmp-*"))


@pytest.mark.network
def test_download_from_archive_extracts_member(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    spec = get_file("cola", "cola_public/raw/out_of_domain_dev.tsv")
    assert spec.archive is not None
    from dataclasses import replace

    local = replace(spec, archive=replace(spec.archive, url=f"{url}/cola/cola_public_1.1.zip"))
    settings = FetchSettings(cache_dir=tmp_path / "cache", mirror=tmp_path / "empty", download=True)
    path = resolve(local, settings)
    assert _sha256(path) == spec.sha256
    assert (tmp_path / "cache" / "cola" / "cola_public_1.1.zip").is_file()


@pytest.mark.network
def test_base_url_mirror_with_gz_fallback(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    spec = get_file("isear", "isear.csv")  # served only as isear.csv.gz
    settings = FetchSettings(
        cache_dir=tmp_path / "cache", mirror=tmp_path / "empty", download=True, base_url=url
    )
    path = resolve(spec, settings)
    assert _sha256(path) == spec.sha256
    with gzip.open(MIRROR / "isear" / "isear.csv.gz") as f:
        assert path.read_bytes() == f.read()


@pytest.mark.network
def test_truncated_download_is_rejected(served: tuple[str, Path], tmp_path: Path) -> None:
    url, root = served
    f = root / "trec" / "TREC_10.label"
    f.write_bytes(f.read_bytes()[:1000])
    spec = get_file("trec", "TREC_10.label").with_url(f"{url}/trec/TREC_10.label")
    with pytest.raises(ChecksumError, match=str(spec.sha256)):
        resolve(spec, FetchSettings(cache_dir=tmp_path / "c", mirror=tmp_path / "e", download=True))


@pytest.mark.network
def test_missing_remote_file_is_unavailable(served: tuple[str, Path], tmp_path: Path) -> None:
    url, _ = served
    spec = get_file("trec", "train_5500.label").with_url(f"{url}/trec/train_5500.label")
    with pytest.raises(DataUnavailableError, match="HTTP 404"):
        resolve(spec, FetchSettings(cache_dir=tmp_path / "c", mirror=tmp_path / "e", download=True))
