"""The streaming extrapolation: validate both checkpoints, then compute and write the output chunk by chunk.

Memory stays at a few chunks whatever the model size: each tensor is read in element ranges from its shard,
extrapolated in reused buffers and streamed into the output shard whose header was written up front. Output
goes into a temp dir beside ``out`` that is renamed at the end, so a failure or a kill leaves no ``out``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
from pathlib import Path

from expo.errors import ExpoError
from expo.extrapolate.checkpoint import Checkpoint, TensorReader, open_checkpoint
from expo.extrapolate.compute import PRECISIONS, ChunkMath, all_finite
from expo.extrapolate.plan import PlannedTensor, build_plan
from expo.extrapolate.provenance import copy_non_weight_files, non_weight_files, write_provenance
from expo.extrapolate.writer import BackgroundWriter, ShardedSafetensorsWriter, TensorSpec
from expo.io.atomic import atomic_dir, check_free_space
from expo.naming import parse_alpha

log = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE_MB = 1000  # several shards let earlier ones be fsynced while later ones are written
CHUNK_ELEMS = 1 << 18  # elements per compute chunk: 512 KB of bf16, so a chunk stays in cache across the ops
OUT_BUFFERS = 3  # output chunks in flight between the compute thread and the I/O thread
# One compute thread plus one I/O thread: elementwise ops are memory-bound, and torch's intra-op thread pool
# spins and doubles the CPU time on a busy machine for no gain.
COMPUTE_THREADS = 1
OWNER_FILE = ".expo_extrapolate_owner"  # in the temp dir while it is written: "host pid"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temp_dirs(out: Path) -> list[Path]:
    """Delete temp dirs beside ``out`` left by a killed run on this host (their writer process is gone)."""
    removed = []
    if not out.parent.is_dir():
        return removed
    for tmp in out.parent.glob(f".{out.name}.*.tmp"):
        owner = tmp / OWNER_FILE
        try:
            host, pid = owner.read_text().split()
            stale = host == socket.gethostname() and not _pid_alive(int(pid))
        except (OSError, ValueError):
            continue
        if stale:
            log.info("removing %s, left by a killed run (pid %s)", tmp, pid)
            shutil.rmtree(tmp, ignore_errors=True)
            removed.append(tmp)
    return removed


def _check_out(out: Path, force: bool, inputs: list[Path]) -> None:
    if out.exists() and not force:
        raise ExpoError(f"output {out} already exists (use --force to replace it)")
    out_abs = out.resolve()
    for src in inputs:
        src_abs = src.resolve()
        if out_abs == src_abs or src_abs in out_abs.parents or out_abs in src_abs.parents:
            raise ExpoError(f"output {out} overlaps the input model directory {src}")


def _stream_tensor(
    item: PlannedTensor, reader: TensorReader, math: ChunkMath, writer: BackgroundWriter
) -> None:
    al, sf = item.aligned, item.sft
    writer.begin(item.name)
    for start in range(0, al.numel, math.chunk_elems):
        count = min(math.chunk_elems, al.numel - start)
        out_buf = writer.acquire()
        if item.action == "copy":
            reader.read(al, start, count, out_buf)
            writer.write(out_buf, count * al.itemsize)
            continue
        a = reader.read(al, start, count, math.buf_aligned)
        s = reader.read(sf, start, count, math.buf_sft)
        result = math.extrapolate(a, s, out_buf)
        if not all_finite(result):
            raise ExpoError(
                f"tensor {item.name}: the extrapolated weights contain NaN or Inf (alpha={math.alpha}; "
                "check the input weights)"
            )
        writer.write(out_buf, count * al.itemsize)
    writer.end()


@contextlib.contextmanager
def _torch_threads(n: int):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def extrapolate(
    sft: str | os.PathLike,
    aligned: str | os.PathLike,
    alpha: float | str,
    out: str | os.PathLike,
    precision: str = "reference",
    force: bool = False,
    allow_pickle: bool = False,
    shard_size_mb: float = DEFAULT_SHARD_SIZE_MB,
    progress: bool = True,
) -> Path:
    """Write ``aligned + alpha * (aligned - sft)`` to ``out`` as sharded safetensors; return ``out``.

    ``precision``: ``reference`` (the authors' op order in the aligned dtype, bit for bit) or ``fp32``
    (compute in float32, round once). Raises ExpoError, naming the culprit, on any bad input, before writing.
    """
    from tqdm import tqdm

    alpha = parse_alpha(alpha)
    if precision not in PRECISIONS:
        raise ExpoError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    try:
        shard_bytes = int(float(shard_size_mb) * 1024 * 1024)
    except (TypeError, ValueError):
        raise ExpoError(f"shard size {shard_size_mb!r} MB is not a number") from None
    if shard_bytes <= 0:
        raise ExpoError(f"shard size {shard_size_mb!r} MB must be positive")
    out = Path(out)
    sft_dir, aligned_dir = Path(sft), Path(aligned)
    sft_ckpt: Checkpoint = open_checkpoint(sft_dir, "sft", allow_pickle)
    aligned_ckpt: Checkpoint = open_checkpoint(aligned_dir, "aligned", allow_pickle)
    _check_out(out, force, [sft_dir, aligned_dir])

    with TensorReader() as reader:
        plan = build_plan(sft_ckpt, aligned_ckpt, reader)
        specs = [TensorSpec(t.name, t.aligned.dtype, t.aligned.shape, t.nbytes) for t in plan]
        extra_bytes = sum(p.stat().st_size for p in non_weight_files(aligned_dir))
        weight_bytes = sum(s.nbytes for s in specs)
        check_free_space(
            out.parent, weight_bytes + extra_bytes + (1 << 20) * (len(specs) // 1000 + 1), "output"
        )
        log.info(
            "extrapolating %d tensors (%.2f GB) with alpha=%r, precision=%s into %s",
            len(plan),
            weight_bytes / 1e9,
            alpha,
            precision,
            out,
        )
        math = ChunkMath(alpha, precision, CHUNK_ELEMS)
        remove_stale_temp_dirs(out)
        with atomic_dir(out, force=force) as tmp:
            (tmp / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
            copy_non_weight_files(aligned_dir, tmp)
            writer = ShardedSafetensorsWriter(tmp, specs, shard_bytes)
            background = BackgroundWriter(writer, [math.new_buffer() for _ in range(OUT_BUFFERS)])
            try:
                with _torch_threads(COMPUTE_THREADS):
                    bar = tqdm(
                        plan, desc="extrapolate", unit="tensor", disable=not progress, dynamic_ncols=True
                    )
                    for item in bar:
                        _stream_tensor(item, reader, math, background)
                background.close()
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    background.close()
                writer.abort()
                if isinstance(exc, OSError):
                    raise ExpoError(f"writing the output {out} failed: {exc}") from None
                raise
            try:
                writer.finish()
            except OSError as exc:
                raise ExpoError(f"writing the output {out} failed: {exc}") from None
            write_provenance(
                tmp,
                sft_ckpt,
                aligned_ckpt,
                alpha,
                precision,
                extra={"tensors": len(plan), "total_size": weight_bytes, "shards": len(writer.shards)},
            )
            (tmp / OWNER_FILE).unlink()
    log.info("wrote %s (%d shards)", out, len(writer.shards))
    return out
