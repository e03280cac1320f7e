"""A streaming writer of sharded safetensors files plus ``model.safetensors.index.json``.

All output tensor names, dtypes and shapes are known before the first byte (from the aligned headers), so each
shard's header is written up front and tensor bytes are then streamed into it chunk by chunk: memory stays at one
chunk whatever the shard size. Each shard's sha256 is computed from the bytes as they are written. Every
``WRITEBACK_BYTES`` the kernel is asked to start writing the shard to disk (``sync_file_range``, Linux), so the
disk works while the engine computes; a shard is closed as soon as its last tensor is complete and fsynced on a
sync thread while the next one is written.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import queue
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.io.atomic import write_json

INDEX_NAME = "model.safetensors.index.json"
WRITEBACK_BYTES = 64 << 20  # start the disk write-out of a shard every 64 MB written
_SYNC_FILE_RANGE_WRITE = 2
_PAGE = 1 << 16  # a multiple of any page size


@dataclass(frozen=True)
class TensorSpec:
    name: str
    dtype: str  # safetensors dtype code
    shape: tuple[int, ...]
    nbytes: int


class _SyncStats:
    def __init__(self) -> None:
        self.fsync_seconds = 0.0
        self.writeback_seconds = 0.0


def _fsync_and_close(fh, stats: _SyncStats) -> None:
    t0 = time.perf_counter()
    try:
        os.fsync(fh.fileno())
    finally:
        fh.close()
        stats.fsync_seconds += time.perf_counter() - t0


_sync_file_range = None


def _start_writeback(fd: int, nbytes: int, stats: _SyncStats) -> None:
    """Ask the kernel to start writing the file's first ``nbytes`` (whole pages, so never the page still being
    filled) to disk, without waiting (a no-op off Linux)."""
    global _sync_file_range
    if _sync_file_range is None:
        try:
            fn = ctypes.CDLL(None, use_errno=True).sync_file_range
            fn.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
            _sync_file_range = fn
        except (OSError, AttributeError):
            _sync_file_range = False
    whole_pages = nbytes - nbytes % _PAGE
    if _sync_file_range and whole_pages > 0:  # (0 would mean: to the end of the file)
        t0 = time.perf_counter()
        _sync_file_range(fd, 0, whole_pages, _SYNC_FILE_RANGE_WRITE)
        stats.writeback_seconds += time.perf_counter() - t0


def plan_shards(specs: list[TensorSpec], shard_bytes: int) -> list[list[TensorSpec]]:
    """Split tensors, in order, into shards of at most ``shard_bytes`` (a larger tensor gets a shard of its own)."""
    shards: list[list[TensorSpec]] = []
    current: list[TensorSpec] = []
    size = 0
    for spec in specs:
        if current and size + spec.nbytes > shard_bytes:
            shards.append(current)
            current, size = [], 0
        current.append(spec)
        size += spec.nbytes
    if current:
        shards.append(current)
    return shards


def shard_file_name(index: int, count: int) -> str:
    return f"model-{index + 1:05d}-of-{count:05d}.safetensors"


def encode_header(specs: list[TensorSpec], metadata: dict[str, str] | None = None) -> bytes:
    """The 8-byte length plus the JSON header (space-padded to a multiple of 8, as safetensors writes it)."""
    header: dict[str, object] = {"__metadata__": metadata or {"format": "pt"}}
    offset = 0
    for spec in specs:
        header[spec.name] = {
            "dtype": spec.dtype,
            "shape": list(spec.shape),
            "data_offsets": [offset, offset + spec.nbytes],
        }
        offset += spec.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)
    return len(raw).to_bytes(8, "little") + raw


class ShardedSafetensorsWriter:
    """Write tensors in the planned order: ``begin(name)``, ``write(bytes-like)`` repeatedly, ``end()``.

    With ``fingerprints`` each shard's sha256 is kept in ``shard_hashes`` (file name -> hex digest).
    """

    def __init__(
        self, out_dir: Path, specs: list[TensorSpec], shard_bytes: int, fingerprints: bool = True
    ) -> None:
        self.out_dir = Path(out_dir)
        self.shards = plan_shards(specs, shard_bytes)
        self.weight_map: dict[str, str] = {}
        self.total_size = sum(s.nbytes for s in specs)
        self._order = [(i, spec) for i, shard in enumerate(self.shards) for spec in shard]
        self._pos = -1
        self._fh = None
        self._shard = -1
        self._remaining = 0
        self._syncer: ThreadPoolExecutor | None = None
        self._syncs: list[Future] = []
        self.fingerprints = fingerprints
        self.shard_hashes: dict[str, str] = {}
        self.shard_sizes: dict[str, int] = {}
        self._hash = None
        self._unsynced = 0
        self._written = 0
        self.sync_stats = _SyncStats()
        self.write_seconds = 0.0
        self.hash_seconds = 0.0
        self.final_sync_wait_seconds = 0.0

    def begin(self, name: str) -> None:
        self._pos += 1
        shard_idx, spec = self._order[self._pos]
        if spec.name != name:
            raise RuntimeError(f"writer expected tensor {spec.name}, got {name}")
        if shard_idx != self._shard:
            self._close_shard()
            self._shard = shard_idx
            fname = shard_file_name(shard_idx, len(self.shards))
            self._fh = open(self.out_dir / fname, "wb")
            header = encode_header(self.shards[shard_idx])
            self._fh.write(header)
            self.shard_sizes[fname] = len(header) + sum(s.nbytes for s in self.shards[shard_idx])
            self._hash = hashlib.sha256(header) if self.fingerprints else None
            self._unsynced = self._written = len(header)
        self.weight_map[name] = shard_file_name(shard_idx, len(self.shards))
        self._remaining = spec.nbytes

    def write(self, data) -> None:
        t0 = time.perf_counter()
        n = self._fh.write(data)
        t1 = time.perf_counter()
        self.write_seconds += t1 - t0
        if self._hash is not None:
            self._hash.update(data)
            self.hash_seconds += time.perf_counter() - t1
        self._remaining -= n
        if self._remaining < 0:
            raise RuntimeError("wrote more bytes than the tensor has")
        self._unsynced += n
        self._written += n
        if self._unsynced >= WRITEBACK_BYTES:
            self._unsynced = 0
            self._fh.flush()
            self._sync_thread().submit(_start_writeback, self._fh.fileno(), self._written, self.sync_stats)

    def _sync_thread(self) -> ThreadPoolExecutor:
        if self._syncer is None:
            self._syncer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="expo-fsync")
        return self._syncer

    def end(self) -> None:
        if self._remaining != 0:
            raise RuntimeError(f"tensor {self._order[self._pos][1].name} is missing {self._remaining} bytes")
        if self._pos == len(self._order) - 1 or self._order[self._pos + 1][0] != self._shard:
            self._close_shard()

    def _close_shard(self) -> None:
        """Close the current shard; its fsync runs on a sync thread while the next shard is written."""
        if self._fh is not None:
            fh, self._fh = self._fh, None
            fh.flush()
            if self._hash is not None:
                self.shard_hashes[Path(fh.name).name] = self._hash.hexdigest()
                self._hash = None
            self._syncs.append(self._sync_thread().submit(_fsync_and_close, fh, self.sync_stats))

    def _wait_syncs(self) -> None:
        if self._syncer is not None:
            self._syncer.shutdown(wait=True)
            self._syncer = None
        syncs, self._syncs = self._syncs, []
        for future in syncs:
            future.result()

    def finish(self, metadata: dict | None = None) -> Path:
        """Check that every tensor was written, then write the index; return its path."""
        if self._pos != len(self._order) - 1 or self._fh is not None:
            raise ExpoError(f"internal error: {len(self._order) - self._pos - 1} tensors were not written")
        t0 = time.perf_counter()
        self._wait_syncs()
        self.final_sync_wait_seconds = time.perf_counter() - t0
        index = self.out_dir / INDEX_NAME
        write_json(
            index,
            {"metadata": {"total_size": self.total_size, **(metadata or {})}, "weight_map": self.weight_map},
        )
        return index

    def abort(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        try:
            self._wait_syncs()
        except OSError:
            pass  # the output is being discarded anyway


class BackgroundWriter:
    """Runs a writer's ``begin``/``write``/``end`` calls in order on one I/O thread, so writing overlaps compute.

    The caller takes a byte buffer with ``acquire()`` (it waits until one has been written out), fills it and
    hands it to ``write``; the buffer comes back to the pool once its bytes are written. An error on the I/O
    thread is raised in the caller at its next call.
    """

    def __init__(self, writer: ShardedSafetensorsWriter, buffers: list) -> None:
        self.writer = writer
        self._free: queue.Queue = queue.Queue()
        for buf in buffers:
            self._free.put(buf)
        self._jobs: queue.Queue = queue.Queue()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="expo-writer", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            kind, arg, nbytes = job
            try:
                if self._error is None:
                    if kind == "begin":
                        self.writer.begin(arg)
                    elif kind == "write":
                        self.writer.write(memoryview(arg[:nbytes]))
                    else:
                        self.writer.end()
            except BaseException as exc:  # handed to the caller
                self._error = exc
            finally:
                if kind == "write":
                    self._free.put(arg)

    def _check(self) -> None:
        if self._error is not None:
            raise self._error

    def acquire(self):
        buf = self._free.get()
        self._check()
        return buf

    def begin(self, name: str) -> None:
        self._check()
        self._jobs.put(("begin", name, 0))

    def write(self, buf, nbytes: int) -> None:
        self._jobs.put(("write", buf, nbytes))

    def end(self) -> None:
        self._jobs.put(("end", None, 0))

    def close(self) -> None:
        """Wait until every queued call has run; raise the I/O thread's error if there was one."""
        self._jobs.put(None)
        self._thread.join()
        self._check()
