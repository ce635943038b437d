"""Resolve a raw data file: cache → offline mirror → HTTP(S) download, always checksum-verified.

Order:

1. the cache directory ``<cache>/<source>/<name>`` (``cache_dir`` argument, else env
   ``AL_BERT_CACHE_DIR``, else the platform user cache dir of ``al_bert``);
2. the offline mirror ``<mirror>/<source>/<name>`` or ``<name>.gz`` (``mirror`` argument, else env
   ``AL_BERT_DATA_MIRROR``, else ``shared/datasets`` next to the repository checkout if present);
3. a download: from ``<base_url>/<source>/<name>[.gz]`` when a ``base_url`` (env
   ``AL_BERT_DATA_BASE_URL``) is given, else from the file's canonical URL or archive. Downloads
   stream to a temporary file with a progress bar, are verified, then moved in place atomically.

Set ``download=False`` (or env ``AL_BERT_OFFLINE=1``) to never touch the network.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from al_bert.data.sources import Archive, RemoteFile
from al_bert.errors import DataError

__all__ = [
    "ChecksumError",
    "DataError",
    "DataUnavailableError",
    "FetchSettings",
    "default_cache_dir",
    "default_mirror",
    "resolve",
]

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_TIMEOUT = (15.0, 120.0)


class ChecksumError(DataError, ValueError):
    """A file is corrupt or truncated: its checksum differs from the published one."""


class DataUnavailableError(DataError, FileNotFoundError):
    """A file is in neither the cache nor the mirror and could not be downloaded."""


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def default_cache_dir() -> Path:
    """``AL_BERT_CACHE_DIR`` or the platform user cache dir (``platformdirs``) of ``al_bert``."""
    env = os.environ.get("AL_BERT_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("al_bert"))


def default_mirror() -> Path | None:
    """``AL_BERT_DATA_MIRROR``, else ``<repo>/../shared/datasets`` when that folder exists."""
    env = os.environ.get("AL_BERT_DATA_MIRROR")
    if env:
        return Path(env).expanduser()
    candidate = Path(__file__).resolve().parents[2].parent / "shared" / "datasets"
    return candidate if candidate.is_dir() else None


@dataclass(frozen=True)
class FetchSettings:
    """Where to look for files. ``None`` fields fall back to the environment / defaults."""

    cache_dir: str | Path | None = None
    mirror: str | Path | None = None
    download: bool | None = None
    base_url: str | None = None

    def cache(self) -> Path:
        return Path(self.cache_dir).expanduser() if self.cache_dir else default_cache_dir()

    def mirror_dir(self) -> Path | None:
        if self.mirror not in (None, ""):
            return Path(str(self.mirror)).expanduser()
        return default_mirror()

    def may_download(self) -> bool:
        if self.download is not None:
            return bool(self.download)
        return not _env_flag("AL_BERT_OFFLINE")

    def base(self) -> str | None:
        url = self.base_url or os.environ.get("AL_BERT_DATA_BASE_URL") or None
        return url.rstrip("/") if url else None


# --------------------------------------------------------------------------- checksums


def _git_blob_sha1(path: Path) -> str:
    h = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


_VERIFIED: dict[tuple[str, int, int], bool] = {}


def verify(path: Path, spec: RemoteFile, *, origin: str) -> None:
    """Raise :class:`ChecksumError` naming the file and its expected checksum on a mismatch."""
    stat = path.stat()
    memo = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if _VERIFIED.get(memo):
        return
    checks: list[tuple[str, str | None, str]] = [
        ("sha256", spec.sha256, "sha256"),
        ("md5", spec.md5, "md5"),
        ("git blob", spec.git_blob, "git"),
    ]
    any_check = False
    for label, expected, algo in checks:
        if not expected:
            continue
        any_check = True
        got = _git_blob_sha1(path) if algo == "git" else _digest(path, algo)
        if got != expected.lower():
            raise ChecksumError(
                f"{spec.key} from {origin} is corrupt or truncated: expected {label} {expected}, "
                f"got {got} ({stat.st_size} bytes). Delete it and fetch it again from "
                f"{spec.download_url}."
            )
    if not any_check:
        log.warning("%s has no published checksum; accepted unverified (%s)", spec.key, origin)
    _VERIFIED[memo] = True


# --------------------------------------------------------------------------- helpers


@contextmanager
def _tmp_in(directory: Path, suffix: str = ".part") -> Iterator[Path]:
    """A temporary path in ``directory`` (same file system, so ``os.replace`` is atomic)."""
    directory.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _lock(path: Path) -> Iterator[None]:
    from filelock import FileLock

    path.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(path) + ".lock"):
        yield


def _gunzip(src: Path, dst: Path) -> None:
    with gzip.open(src, "rb") as fin, dst.open("wb") as fout:
        shutil.copyfileobj(fin, fout, _CHUNK)


class _HttpStatusError(OSError):
    def __init__(self, url: str, status: int) -> None:
        super().__init__(f"HTTP {status} for {url}")
        self.status = status


def _download(url: str, dst: Path, *, label: str) -> None:
    """Stream ``url`` into ``dst`` with a progress bar; reject truncated transfers."""
    import requests
    from tqdm.auto import tqdm

    with requests.get(url, stream=True, timeout=_TIMEOUT, allow_redirects=True) as resp:
        if resp.status_code != 200:
            raise _HttpStatusError(url, resp.status_code)
        encoded = resp.headers.get("Content-Encoding", "identity") not in ("", "identity")
        total = None if encoded else int(resp.headers.get("Content-Length", 0) or 0) or None
        written = 0
        with (
            dst.open("wb") as f,
            tqdm(total=total, unit="B", unit_scale=True, desc=label, leave=False) as bar,
        ):
            for chunk in resp.iter_content(_CHUNK):
                f.write(chunk)
                written += len(chunk)
                bar.update(len(chunk))
    if total is not None and written != total:
        raise ChecksumError(
            f"download of {label} from {url} is truncated: got {written} of {total} bytes"
        )


def _extract(archive_path: Path, member: str, dst: Path) -> None:
    name = archive_path.name
    if zipfile.is_zipfile(archive_path):
        with zipfile.ZipFile(archive_path) as zf, zf.open(member) as fin, dst.open("wb") as fout:
            shutil.copyfileobj(fin, fout, _CHUNK)
        return
    if tarfile.is_tarfile(archive_path):
        with tarfile.open(archive_path) as tf:
            tin = tf.extractfile(member)
            if tin is None:
                raise KeyError(f"{member} is not a regular file in {name}")
            with tin, dst.open("wb") as fout:
                shutil.copyfileobj(tin, fout, _CHUNK)
        return
    raise DataError(f"{name} is neither a zip nor a tar archive")


def _verify_archive(path: Path, archive: Archive) -> None:
    spec = RemoteFile(
        "archive", archive.filename, url=archive.url, sha256=archive.sha256, md5=archive.md5
    )
    if archive.sha256 or archive.md5:
        verify(path, spec, origin=archive.url)


# --------------------------------------------------------------------------- resolution


def _from_mirror(spec: RemoteFile, mirror: Path, target: Path) -> Path | None:
    plain = mirror / spec.source / spec.name
    if plain.is_file():
        verify(plain, spec, origin=f"the mirror ({plain})")
        return plain
    packed = plain.with_name(plain.name + ".gz")
    if packed.is_file():
        with _lock(target):
            if target.is_file():
                verify(target, spec, origin=f"the cache ({target})")
                return target
            with _tmp_in(target.parent) as tmp:
                try:
                    _gunzip(packed, tmp)
                except (OSError, EOFError) as err:
                    raise ChecksumError(
                        f"{spec.key} from the mirror ({packed}) is corrupt or truncated ({err}); "
                        f"expected {spec.expected_checksum()} of the uncompressed file"
                    ) from err
                verify(tmp, spec, origin=f"the mirror ({packed})")
                os.replace(tmp, target)
        return target
    return None


def _from_network(spec: RemoteFile, settings: FetchSettings, target: Path) -> Path:
    base = settings.base()
    with _lock(target):
        if target.is_file():
            verify(target, spec, origin=f"the cache ({target})")
            return target
        with _tmp_in(target.parent) as tmp:
            if base is not None:
                url = f"{base}/{spec.source}/{spec.name}"
                try:
                    _download(url, tmp, label=spec.key)
                except _HttpStatusError as err:
                    if err.status != 404:
                        raise
                    with _tmp_in(target.parent, ".gz") as gz:
                        url += ".gz"
                        _download(url, gz, label=spec.key + ".gz")
                        _gunzip(gz, tmp)
                origin = url
            elif spec.url:
                origin = spec.url
                _download(spec.url, tmp, label=spec.key)
            elif spec.archive is not None:
                archive = spec.archive
                apath = settings.cache() / spec.source / archive.filename
                if not apath.is_file():
                    with _tmp_in(target.parent) as atmp:
                        _download(archive.url, atmp, label=archive.filename)
                        _verify_archive(atmp, archive)
                        os.replace(atmp, apath)
                else:
                    _verify_archive(apath, archive)
                _extract(apath, archive.member, tmp)
                origin = f"{archive.url} ({archive.member})"
            else:
                raise DataUnavailableError(f"{spec.key} has no known download URL")
            verify(tmp, spec, origin=origin)
            os.replace(tmp, target)
    log.info("fetched %s into %s", spec.key, target)
    return target


def _unavailable(spec: RemoteFile, settings: FetchSettings, target: Path, why: str) -> str:
    mirror = settings.mirror_dir()
    where = f"{mirror / spec.source / spec.name}[.gz]" if mirror else "(no mirror configured)"
    return (
        f"data file {spec.key} is not available: not in the cache ({target}), not in the mirror "
        f"{where}; {why}. Download it from {spec.download_url}"
        + (f" (archive member {spec.archive.member})" if spec.archive and not spec.url else "")
        + f" and put it at {target}, or at <mirror>/{spec.source}/{spec.name} with the mirror set "
        "by AL_BERT_DATA_MIRROR / dataset.mirror."
    )


def resolve(spec: RemoteFile, settings: FetchSettings | None = None) -> Path:
    """Return a local, verified path of ``spec`` (cache → mirror → download).

    Raises :class:`ChecksumError` for a corrupt copy in the mirror or a corrupt download (naming the
    file and the expected checksum) and :class:`DataUnavailableError` when no copy can be had.
    """
    settings = settings or FetchSettings()
    target = settings.cache() / spec.source / spec.name
    if target.is_file():
        try:
            verify(target, spec, origin=f"the cache ({target})")
            return target
        except ChecksumError as err:
            log.warning("%s; removing it and fetching again", err)
            target.unlink(missing_ok=True)
    mirror = settings.mirror_dir()
    if mirror is not None:
        found = _from_mirror(spec, mirror, target)
        if found is not None:
            return found
    if not settings.may_download():
        raise DataUnavailableError(_unavailable(spec, settings, target, "downloads are disabled"))
    try:
        return _from_network(spec, settings, target)
    except ChecksumError:
        raise
    except (OSError, KeyError, DataError) as err:
        raise DataUnavailableError(
            _unavailable(spec, settings, target, f"the download failed ({err})")
        ) from err
    except Exception as err:  # requests' exceptions derive from OSError, this is a safety net
        raise DataUnavailableError(
            _unavailable(spec, settings, target, f"the download failed ({err!r})")
        ) from err
