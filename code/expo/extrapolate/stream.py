"""The streaming pipeline: a reader thread, the compute loop, a writer thread, overlapped chunk by chunk.

The reader thread reads the aligned and sft bytes of each chunk into one of a few input slots (hashing them on
the way); the calling thread computes each chunk into an output buffer and hands it to the writer thread
(:class:`expo.extrapolate.writer.BackgroundWriter`), which writes and hashes it. numpy, file I/O and hashlib
release the GIL, so the three overlap on several cores. Chunks keep memory flat whatever the model size.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from expo.errors import ExpoError
from expo.extrapolate.checkpoint import TensorReader
from expo.extrapolate.compute import STORAGE, ChunkMath
from expo.extrapolate.plan import PlannedTensor
from expo.extrapolate.writer import BackgroundWriter

INPUT_SLOTS = 4  # chunks read ahead of the compute


@dataclass
class _Slot:
    aligned: np.ndarray
    sft: np.ndarray


@dataclass
class _Chunk:
    item: PlannedTensor
    start: int
    count: int
    slot: _Slot
    aligned: np.ndarray  # raw bytes
    sft: np.ndarray | None


class _Reader(threading.Thread):
    """Reads every chunk of the plan, in order, into free slots and queues them."""

    def __init__(self, plan: list[PlannedTensor], reader: TensorReader, chunk_elems: int) -> None:
        super().__init__(name="expo-reader", daemon=True)
        self.plan = plan
        self.reader = reader
        self.chunk_elems = chunk_elems
        self.free: queue.Queue = queue.Queue()
        for _ in range(INPUT_SLOTS):
            self.free.put(_Slot(np.empty(chunk_elems * 8, np.uint8), np.empty(chunk_elems * 8, np.uint8)))
        self.ready: queue.Queue = queue.Queue()
        self.stopped = False
        self.cpu_seconds = 0.0

    def run(self) -> None:
        t0 = time.thread_time()
        try:
            for item in self.plan:
                for start in range(0, max(item.aligned.numel, 1), self.chunk_elems):  # one chunk if empty
                    slot = self.free.get()
                    if slot is None or self.stopped:
                        return
                    count = min(self.chunk_elems, item.aligned.numel - start)
                    a = self.reader.read(item.aligned, start, count, slot.aligned)
                    s = None
                    if item.action == "extrapolate":
                        s = self.reader.read(item.sft, start, count, slot.sft)
                    self.ready.put(_Chunk(item, start, count, slot, a, s))
            self.ready.put(None)
        except BaseException as exc:  # handed to the compute loop
            self.ready.put(exc)
        finally:
            self.cpu_seconds = time.thread_time() - t0

    def stop(self) -> None:
        self.stopped = True
        self.free.put(None)


def stream(
    plan: list[PlannedTensor],
    reader: TensorReader,
    math: ChunkMath,
    writer: BackgroundWriter,
    on_tensor: Callable[[PlannedTensor], None] = lambda item: None,
) -> dict[str, float]:
    """Compute and write every planned tensor; return the compute thread's busy seconds and CPU seconds.

    Raises ExpoError naming the tensor when a result has NaN/Inf; errors of the reader/writer threads are raised
    here too. ``on_tensor`` is called after each tensor (progress).
    """
    source = _Reader(plan, reader, math.chunk_elems)
    source.start()
    compute_seconds = 0.0
    cpu0 = time.thread_time()
    try:
        while True:
            chunk = source.ready.get()
            if chunk is None:
                break
            if isinstance(chunk, BaseException):
                raise chunk
            item = chunk.item
            al = item.aligned
            if chunk.start == 0:
                writer.begin(item.name)
            nbytes = chunk.count * al.itemsize
            out_buf = writer.acquire()
            t0 = time.perf_counter()
            if item.action == "copy":
                out_buf[:nbytes] = chunk.aligned
            else:
                sf = item.sft
                finite = math.extrapolate(
                    chunk.aligned.view(STORAGE[al.dtype]),
                    al.dtype,
                    chunk.sft.view(STORAGE[sf.dtype]),
                    sf.dtype,
                    out_buf[:nbytes].view(STORAGE[al.dtype]),
                )
                if not finite:
                    raise ExpoError(
                        f"tensor {item.name}: the extrapolated weights contain NaN or Inf (alpha={math.alpha}; "
                        "check the input weights)"
                    )
            compute_seconds += time.perf_counter() - t0
            source.free.put(chunk.slot)
            writer.write(out_buf, nbytes)
            if chunk.start + chunk.count >= al.numel:
                writer.end()
                on_tensor(item)
    finally:
        source.stop()
        source.join()
    return {
        "compute_seconds": compute_seconds,
        "compute_cpu_seconds": time.thread_time() - cpu0,
        "reader_cpu_seconds": source.cpu_seconds,
    }
