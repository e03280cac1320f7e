"""Content fingerprints of weight files: the sha256 of every byte, computed from the bytes the engine streams anyway.

An input file's hash is fed by the engine's own reads: a read that starts at or before the hash's cursor (the
first byte not hashed yet) and reaches past it is hashed from the cursor on; the header is fed from the bytes
parsed at open. With the usual layout (tensors read in file order) every byte is hashed on the way; bytes never
read in order (tensors the plan skips, an sft with a different shard layout, pickle files) are read once more at
the end. Output shards are hashed as they are written. sha256 (hashlib, OpenSSL) is the hash the Hugging Face
hub shows for LFS files, so an input fingerprint can be checked against the hub's file listing.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

HASH_NAME = "sha256"
CATCH_UP_BLOCK = 1 << 24


class SequentialHash:
    """The sha256 of one file, fed with byte ranges in any order; only in-order bytes are used."""

    def __init__(self, path: Path, size: int) -> None:
        self.path = Path(path)
        self.size = size
        self.cursor = 0
        self.caught_up = 0  # bytes read again by finish()
        self._hash = hashlib.sha256()
        self._lock = threading.Lock()
        self._digest: str | None = None

    def feed(self, offset: int, data) -> None:
        """Offer the bytes ``data`` found at ``offset`` in the file."""
        end = offset + len(data)
        with self._lock:
            if offset <= self.cursor < end and self._digest is None:
                self._hash.update(data[self.cursor - offset :] if offset < self.cursor else data)
                self.cursor = end

    def finish(self) -> str:
        """Hash what was not fed in order (read from the file now) and return the hex digest."""
        with self._lock:
            if self._digest is None:
                if self.cursor < self.size:
                    with open(self.path, "rb", buffering=0) as fh:
                        fh.seek(self.cursor)
                        for block in iter(lambda: fh.read(CATCH_UP_BLOCK), b""):
                            self._hash.update(block)
                            self.caught_up += len(block)
                self._digest = self._hash.hexdigest()
            return self._digest


class InputFingerprints:
    """One :class:`SequentialHash` per input weight file, looked up by path (shared by sft and aligned)."""

    def __init__(self) -> None:
        self._files: dict[Path, SequentialHash] = {}

    def add(self, path: Path, header: bytes = b"") -> None:
        path = Path(path)
        if path not in self._files:
            self._files[path] = SequentialHash(path, os.stat(path).st_size)
            if header:
                self._files[path].feed(0, header)

    def feed(self, path: Path, offset: int, data) -> None:
        entry = self._files.get(path)
        if entry is not None:
            entry.feed(offset, data)

    def finish(self, path: Path) -> str:
        return self._files[Path(path)].finish()

    @property
    def caught_up_bytes(self) -> int:
        return sum(h.caught_up for h in self._files.values())


def file_entry(digest: str, size: int) -> dict:
    return {HASH_NAME: digest, "bytes": size}


def combined_digest(files: dict[str, dict]) -> str:
    """One fingerprint of a set of weight files: the sha256 of their ``sha256sum``-style listing, sorted by name."""
    listing = "".join(f"{entry[HASH_NAME]}  {name}\n" for name, entry in sorted(files.items()))
    return hashlib.sha256(listing.encode("utf-8")).hexdigest()
