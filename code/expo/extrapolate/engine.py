"""The streaming extrapolation: validate both checkpoints, then compute and write the output chunk by chunk.

Memory stays at a few chunks whatever the model size: each tensor is read in element ranges from its shard,
extrapolated in reused buffers (numpy, no torch: :mod:`expo.extrapolate.compute`) and streamed into the output
shard whose header was written up front; reading, computing and writing overlap on threads
(:mod:`expo.extrapolate.stream`). Every input and output weight file gets a sha256 from the bytes streamed
(:mod:`expo.extrapolate.fingerprints`), recorded in ``expo_provenance.json``. Output goes into a temp dir beside
``out``, fsynced, then renamed, so a failure or a kill leaves no ``out``.

Environment (for benchmarks): ``EXPO_EXTRAPOLATE_TIMINGS=1`` logs one ``timings {json}`` line with the split of
the run (startup and imports, plan, read, hash, compute, write, fsync; busy seconds per thread, overlapping);
``EXPO_EXTRAPOLATE_FINGERPRINTS=0`` skips the content hashes (to measure their cost; provenance then says so).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import socket
import time
from pathlib import Path

import numpy as np

from expo.errors import ExpoError
from expo.extrapolate.checkpoint import Checkpoint, TensorReader, open_checkpoint
from expo.extrapolate.compute import PRECISIONS, ChunkMath
from expo.extrapolate.fingerprints import InputFingerprints, file_entry
from expo.extrapolate.plan import build_plan
from expo.extrapolate.provenance import copy_non_weight_files, fsync_path, non_weight_files, write_provenance
from expo.extrapolate.stream import stream
from expo.extrapolate.writer import BackgroundWriter, ShardedSafetensorsWriter, TensorSpec
from expo.io.atomic import atomic_dir, check_free_space
from expo.naming import parse_alpha

log = logging.getLogger(__name__)

DEFAULT_SHARD_SIZE_MB = 1000  # several shards let earlier ones be fsynced while later ones are written
# elements per chunk (1 MB of bf16): fewer numpy calls and GIL hand-offs per byte than 128K-256K, measured
# ~10% less CPU; 1M was slower again (cache).
CHUNK_ELEMS = 1 << 19
OUT_BUFFERS = 4  # output chunks in flight between the compute thread and the writer thread
TIMINGS_ENV = "EXPO_EXTRAPOLATE_TIMINGS"
FINGERPRINTS_ENV = "EXPO_EXTRAPOLATE_FINGERPRINTS"
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


def _process_age() -> float | None:
    """Seconds since this process started (Linux /proc), i.e. interpreter start-up plus imports so far."""
    try:
        fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return round(uptime - int(fields[19]) / os.sysconf("SC_CLK_TCK"), 3)
    except (OSError, ValueError, IndexError):
        return None


def _env_flag(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value not in ("0", "false", "no", "off")


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
    fingerprints: bool | None = None,
) -> Path:
    """Write ``aligned + alpha * (aligned - sft)`` to ``out`` as sharded safetensors; return ``out``.

    ``precision``: ``reference`` (the authors' op order in the aligned dtype, bit for bit) or ``fp32``
    (compute in float32, round once). ``fingerprints``: sha256 of every input and output weight file in the
    provenance (default: on unless ``EXPO_EXTRAPOLATE_FINGERPRINTS=0``). Raises ExpoError, naming the culprit, on
    any bad input, before writing.
    """
    startup = _process_age()
    t_start = time.perf_counter()
    cpu_start = time.process_time()
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
    if fingerprints is None:
        fingerprints = _env_flag(FINGERPRINTS_ENV, True)
    out = Path(out)
    sft_dir, aligned_dir = Path(sft), Path(aligned)
    sft_ckpt: Checkpoint = open_checkpoint(sft_dir, "sft", allow_pickle)
    aligned_ckpt: Checkpoint = open_checkpoint(aligned_dir, "aligned", allow_pickle)
    _check_out(out, force, [sft_dir, aligned_dir])
    hashes = InputFingerprints() if fingerprints else None
    if hashes is not None:
        for ckpt in (aligned_ckpt, sft_ckpt):
            for path in ckpt.weight_files:
                hashes.add(path, ckpt.headers.get(path, b""))

    timings: dict[str, float | int | None] = {"startup_and_imports": startup}
    with TensorReader(hashes) as reader:
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
        chunk_elems = CHUNK_ELEMS
        math = ChunkMath(alpha, precision, chunk_elems)
        remove_stale_temp_dirs(out)
        timings["plan"] = time.perf_counter() - t_start
        with atomic_dir(out, force=force) as tmp:
            (tmp / OWNER_FILE).write_text(f"{socket.gethostname()} {os.getpid()}\n")
            copy_non_weight_files(aligned_dir, tmp)
            writer = ShardedSafetensorsWriter(tmp, specs, shard_bytes, fingerprints=fingerprints)
            buffers = [np.empty(chunk_elems * 8, np.uint8) for _ in range(OUT_BUFFERS)]
            background = BackgroundWriter(writer, buffers)
            t_stream = time.perf_counter()
            try:
                with tqdm(
                    total=len(plan),
                    desc="extrapolate",
                    unit="tensor",
                    disable=not progress,
                    dynamic_ncols=True,
                ) as bar:
                    timings.update(stream(plan, reader, math, background, on_tensor=lambda _: bar.update()))
                background.close()
            except BaseException as exc:
                with contextlib.suppress(BaseException):
                    background.close()
                writer.abort()
                if isinstance(exc, OSError):
                    raise ExpoError(f"writing the output {out} failed: {exc}") from None
                raise
            timings["stream_wall"] = time.perf_counter() - t_stream
            try:
                writer.finish()
            except OSError as exc:
                raise ExpoError(f"writing the output {out} failed: {exc}") from None
            t_hash = time.perf_counter()
            content = None
            if hashes is not None:
                content = {
                    role: {
                        str(path.relative_to(ckpt.root)): file_entry(hashes.finish(path), path.stat().st_size)
                        for path in ckpt.weight_files
                    }
                    for role, ckpt in (("sft", sft_ckpt), ("aligned", aligned_ckpt))
                }
                content["output"] = {
                    name: file_entry(digest, writer.shard_sizes[name])
                    for name, digest in writer.shard_hashes.items()
                }
                timings["hash_catch_up_bytes"] = hashes.caught_up_bytes
            timings["hash_catch_up"] = time.perf_counter() - t_hash
            write_provenance(
                tmp,
                sft_ckpt,
                aligned_ckpt,
                alpha,
                precision,
                extra={"tensors": len(plan), "total_size": weight_bytes, "shards": len(writer.shards)},
                content=content,
            )
            (tmp / OWNER_FILE).unlink()
            fsync_path(tmp)  # the directory entries, before the rename
        fsync_path(out.parent)  # the rename
    timings.update(
        read=reader.read_seconds,
        hash_inputs=reader.hash_seconds,
        write=writer.write_seconds,
        hash_outputs=writer.hash_seconds,
        writeback_calls=writer.sync_stats.writeback_seconds,
        fsync_thread=writer.sync_stats.fsync_seconds,
        final_fsync_wait=writer.final_sync_wait_seconds,
        in_function=time.perf_counter() - t_start,
        cpu_in_function=time.process_time() - cpu_start,
        gigabytes_written=weight_bytes / 1e9,
    )
    if _env_flag(TIMINGS_ENV, False):
        log.info(
            "timings %s",
            json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in timings.items()}),
        )
    log.info("wrote %s (%d shards)", out, len(writer.shards))
    return out
