"""The tensor math of ExPO, theta = aligned + alpha * (aligned - sft), on element chunks with reused buffers.

``reference`` reproduces the authors' bf16 script bit for bit: in the aligned dtype, the three torch ops
``aligned - sft``, ``alpha * d`` (alpha a Python float) and ``aligned + d``, each rounded by torch as it rounds
them. The ops run in place on preallocated buffers; elementwise ops give the same bits as on whole tensors.
``fp32`` computes the same expression in float32 (float64 for float64 weights) and rounds once to the aligned
dtype.
"""

from __future__ import annotations

PRECISIONS = ("reference", "fp32")


class ChunkMath:
    """Owns the work buffers (sized for ``chunk_elems`` elements) and computes one chunk at a time."""

    def __init__(self, alpha: float, precision: str, chunk_elems: int) -> None:
        import torch

        if precision not in PRECISIONS:
            raise ValueError(precision)
        self.alpha = float(alpha)
        self.precision = precision
        self.chunk_elems = chunk_elems
        # uint8 byte buffers, viewed as the dtype needed; pages are touched only as far as they are used.
        self.buf_aligned = torch.empty(chunk_elems * 8, dtype=torch.uint8)
        self.buf_sft = torch.empty(chunk_elems * 8, dtype=torch.uint8)
        self.buf_tmp = torch.empty(chunk_elems * 8, dtype=torch.uint8)
        self._wide_a = None
        self._wide_s = None

    def _typed(self, buf, dtype, count: int):
        return buf[: count * dtype.itemsize].view(dtype)

    def new_buffer(self):
        """A byte buffer big enough for one chunk of any dtype (to pass as ``out_buf``)."""
        import torch

        return torch.empty(self.chunk_elems * 8, dtype=torch.uint8)

    def extrapolate(self, aligned, sft, out_buf):
        """Return ``aligned + alpha * (aligned - sft)`` for one chunk, in aligned's dtype (a view of out_buf).

        out_buf and buf_tmp are used in turn (no op writes over its own input: that is torch's fast path).
        """
        import torch

        dtype = aligned.dtype
        count = aligned.numel()
        out = self._typed(out_buf, dtype, count)
        tmp = self._typed(self.buf_tmp, dtype, count)
        if self.precision == "reference" or dtype == torch.float64:
            if sft.dtype != dtype:
                tmp.copy_(sft)  # the sft chunk rounded to the aligned dtype, as torch rounds it
                sft = tmp
            torch.sub(aligned, sft, out=out)  # d = aligned - sft, rounded to dtype
            torch.mul(out, self.alpha, out=tmp)  # alpha * d, rounded to dtype
            torch.add(aligned, tmp, out=out)  # aligned + alpha * d, rounded to dtype
            return out
        if self._wide_a is None:
            self._wide_a = torch.empty(self.chunk_elems, dtype=torch.float32)
            self._wide_s = torch.empty(self.chunk_elems, dtype=torch.float32)
        wide_a = self._wide_a[:count]
        wide_s = self._wide_s[:count]
        wide_a.copy_(aligned)
        wide_s.copy_(sft)
        torch.sub(wide_a, wide_s, out=wide_s)
        wide_s.mul_(self.alpha)
        wide_s.add_(wide_a)
        out.copy_(wide_s)  # the single rounding to the aligned dtype
        return out


def all_finite(values) -> bool:
    """Whether a chunk has no NaN/Inf: a float32 sum (cheap) is finite when all values are; if it is not (NaN,
    Inf, or an overflowing sum of huge values), the exact elementwise test decides."""
    import torch

    accumulate = torch.float64 if values.dtype == torch.float64 else torch.float32
    if bool(torch.isfinite(values.sum(dtype=accumulate))):
        return True
    return bool(torch.isfinite(values).all())
