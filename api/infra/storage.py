"""Photo store: originals kept content-addressed (sha256), written once, never changed.

Two kinds behind one small interface: a local folder (one machine, here) and an
S3-compatible object store (many API and worker machines, `storage_s3.py`). Derived images
(the aligned page a worker writes and the API serves) live in the same store.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Protocol

from sipantau.api.domain.errors import DomainError, Internal, NotFound, Unavailable

Headers = dict[str, str] | None
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class StoreError(DomainError, OSError):
    """A photo store failure: a stable `code`, a message, and `detail` (English, for logs)."""

    def __init__(self, message: str, detail: str, *, retry_after: int | None = None) -> None:
        super().__init__(message, detail=detail, retry_after=retry_after)


class StoreUnavailable(StoreError, Unavailable):
    """The store cannot be reached or written: retry later, or fix its address/credentials."""

    code = "store_unavailable"

    def __init__(self, detail: str) -> None:
        msg = "penyimpanan foto tidak dapat dihubungi atau ditulisi; coba lagi sebentar lagi"
        super().__init__(msg, detail, retry_after=10)


class PhotoMissing(StoreError, NotFound):
    """No object under this hash or name."""

    def __init__(self, detail: str) -> None:
        super().__init__("foto tidak ditemukan di penyimpanan", detail)


class PhotoDamaged(StoreError, Internal):
    """What the store holds (or received) does not match its hash: never served or read."""

    code = "photo_damaged"

    def __init__(self, detail: str) -> None:
        msg = "foto di penyimpanan rusak (hash tidak cocok); kirim ulang foto atau hubungi admin"
        super().__init__(msg, detail)


class PhotoStore(Protocol):
    """What the service needs of a store: originals by hash, derived images by name, a probe."""

    def put(self, data: bytes) -> str: ...
    def get(self, sha256: str) -> bytes: ...
    def exists(self, sha256: str) -> bool: ...
    def put_derived(self, name: str, data: bytes) -> None: ...
    def get_derived(self, name: str) -> bytes: ...
    def check(self) -> None: ...


def media_type(data: bytes) -> str:
    """The image's content type from its first bytes (the formats the intake accepts)."""
    if data[:3] == b"\xff\xd8\xff":
        return "image/jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "image/png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "image/tiff"
    if data[:2] == b"BM":
        return "image/bmp"
    return "application/octet-stream"


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_sha(sha256: str) -> str:
    """`sha256` if it is a lowercase hex digest (never a path), else ValueError."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise ValueError("not a sha256 hex digest")
    return sha256


def check_name(name: str) -> str:
    """A derived image's name: letters, digits, `._-`, no leading dot (never a path)."""
    if not _NAME.fullmatch(name):
        raise ValueError(f"not a derived image name: {name[:60]!r}")
    return name


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that it is whole on disk, or absent, after any crash."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


class LocalPhotoStore:
    """`root/ab/cd/abcd...`: one file per distinct photo; the same bytes again is a no-op."""

    def __init__(self, root: Path, derived: Path | None = None) -> None:
        self.root = root
        self.derived = derived if derived is not None else root / "derived"
        root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        sha = check_sha(sha256)
        return self.root / sha[:2] / sha[2:4] / sha

    def put(self, data: bytes) -> str:
        """Store `data`; a copy already there is checked, and rewritten if it is damaged."""
        digest = sha256_of(data)
        target = self.path(digest)
        if not self._intact(target, digest):
            write_durably(target, data)
        return digest

    @staticmethod
    def _intact(path: Path, sha256: str) -> bool:
        try:
            return sha256_of(path.read_bytes()) == sha256
        except FileNotFoundError:
            return False

    def get(self, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise PhotoMissing(f"{path} does not exist") from None
        if sha256_of(data) != sha256:
            raise PhotoDamaged(f"photo {sha256} is damaged on disk ({path})")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def put_derived(self, name: str, data: bytes) -> None:
        write_durably(self.derived / check_name(name), data)

    def get_derived(self, name: str) -> bytes:
        path = self.derived / check_name(name)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise PhotoMissing(f"{path} does not exist") from None

    def check(self) -> None:
        """Both folders exist and take a file; StoreUnavailable says which does not."""
        for folder in (self.root, self.derived):
            try:
                folder.mkdir(parents=True, exist_ok=True)
                fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-ready-")
                os.close(fd)
                os.unlink(tmp)
            except OSError as e:
                raise StoreUnavailable(f"local folder {folder} is not writable: {e}") from None
