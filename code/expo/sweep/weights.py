"""θ(α) = θ_aligned + α(θ_aligned − θ_sft) as (name, tensor) pairs for an engine, and the sweep's pre-flight checks.

The tensors are the ones ``expo extrapolate`` writes, bit for bit: the same plan (:mod:`expo.extrapolate.plan`:
names in the aligned checkpoint's naming, tied embeddings, every name/shape/dtype mismatch an error), the same
reader, and the same arithmetic on the CPU (:func:`expo.extrapolate.compute.extrapolate_tensors`: ``reference``
``d = aligned - sft``, ``d = d * alpha``, ``out = aligned + d`` in the aligned dtype; ``fp32`` rounded once),
on cache-sized element chunks as the engine computes them (elementwise ops: the same bits on any chunking).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.extrapolate.checkpoint import Checkpoint, TensorReader, open_checkpoint, torch_dtype
from expo.extrapolate.compute import PRECISIONS, extrapolate_tensors
from expo.extrapolate.plan import PlannedTensor, build_plan

# Whole-tensor host copies alive during a swap: the tensor being computed and the one vLLM is still loading.
SWAP_COPIES = 2
CHUNK_ELEMS = 1 << 18  # elements per compute chunk (512 KB of bf16): the three ops stay in cache


def theta(aligned, sft, alpha: float, precision: str = "reference"):
    """``aligned + alpha * (aligned - sft)`` in aligned's dtype: :func:`expo.extrapolate.compute.extrapolate_tensors`,
    the single definition of the op order that ``expo extrapolate`` writes bit for bit."""
    if precision not in PRECISIONS:
        raise ExpoError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    return extrapolate_tensors(sft, aligned, alpha, precision)


@dataclass
class PairPlan:
    """The checked tensor plan of one (sft, aligned) pair."""

    sft: Checkpoint
    aligned: Checkpoint
    tensors: list[PlannedTensor]

    @property
    def weight_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    @property
    def largest_tensor_bytes(self) -> int:
        return max(max(t.aligned.nbytes, t.sft.nbytes) for t in self.tensors)


def plan_pair(sft_dir: str | os.PathLike, aligned_dir: str | os.PathLike) -> PairPlan:
    """Open both checkpoints and match their tensors; any architecture difference is one-line ExpoError."""
    sft = open_checkpoint(Path(sft_dir), "sft")
    aligned = open_checkpoint(Path(aligned_dir), "aligned")
    with TensorReader() as reader:
        tensors = build_plan(sft, aligned, reader)
    return PairPlan(sft, aligned, tensors)


def _read_whole(reader: TensorReader, info):
    import torch

    buf = torch.empty(info.nbytes, dtype=torch.uint8)
    return reader.read(info, 0, info.numel, buf).view(info.shape)


class _Chunks:
    """Reused read buffers for one chunk of aligned and sft elements (cache-sized, like the engine's)."""

    def __init__(self) -> None:
        import torch

        self.aligned = torch.empty(CHUNK_ELEMS * 8, dtype=torch.uint8)
        self.sft = torch.empty(CHUNK_ELEMS * 8, dtype=torch.uint8)


def _theta_tensor(reader: TensorReader, item: PlannedTensor, alpha: float, precision: str, chunks: _Chunks):
    """θ(α) of one planned tensor, computed chunk by chunk into a new tensor of the aligned dtype and shape."""
    import torch

    al, sf = item.aligned, item.sft
    out = torch.empty(al.numel, dtype=torch_dtype(al.dtype))
    for start in range(0, al.numel, CHUNK_ELEMS):
        count = min(CHUNK_ELEMS, al.numel - start)
        a = reader.read(al, start, count, chunks.aligned)
        s = reader.read(sf, start, count, chunks.sft)
        out[start : start + count] = theta(a, s, alpha, precision)
    return out.view(al.shape)


def iter_theta(
    sft_dir: str | os.PathLike, aligned_dir: str | os.PathLike, alpha: float, precision: str = "reference"
) -> Iterator[tuple[str, object]]:
    """Yield ``(name, θ(α) tensor)`` for every tensor ``expo extrapolate`` would write, in its order.

    α = 0 yields the aligned tensors themselves. NaN/Inf in a result raises ExpoError, as in the engine.
    """
    import torch

    plan = plan_pair(sft_dir, aligned_dir)
    alpha = float(alpha)
    chunks = _Chunks()
    with TensorReader() as reader:
        for item in plan.tensors:
            if item.action == "copy" or alpha == 0.0:
                yield item.name, _read_whole(reader, item.aligned)
                continue
            out = _theta_tensor(reader, item, alpha, precision, chunks)
            if not bool(torch.isfinite(out).all()):
                raise ExpoError(
                    f"tensor {item.name}: the extrapolated weights contain NaN or Inf (alpha={alpha}; "
                    "check the input weights)"
                )
            yield item.name, out


def available_memory_bytes() -> int:
    """Host memory this process may still use: MemAvailable, capped by a cgroup v2 limit (SLURM jobs) if any."""
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        current = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            room = int(limit) - current
            avail = room if avail is None else min(avail, room)
    except (OSError, ValueError):
        pass
    if avail is None:
        raise ExpoError("cannot tell how much memory is available (/proc/meminfo unreadable)")
    return avail


def swap_memory_bytes(plan: PairPlan, workers: int) -> int:
    """Extra host memory of an in-engine weight swap: each worker computes one whole tensor at a time."""
    return workers * SWAP_COPIES * plan.largest_tensor_bytes
