"""The tensor math of ExPO, theta = aligned + alpha * (aligned - sft): its one definition, and a torch-free copy.

:func:`extrapolate_tensors` is THE definition of the op order, on torch tensors. ``reference`` is the authors'
bf16 script bit for bit: the sft tensor cast to the aligned dtype, then in the aligned dtype the three torch ops
``d = aligned - sft``, ``d = d * alpha`` (alpha a Python float) and ``out = aligned + d``, each rounded as torch
rounds it. ``fp32`` computes the same expression in float32 (float64 for float64 weights) and rounds once.
Everything that must give the same bits as ``expo extrapolate`` (the in-engine sweep) calls this function.

:class:`ChunkMath` computes the same bits with numpy on element chunks in reused buffers, so the streaming
engine never imports torch (``import torch`` is ~2.5 s of a 1 GB extrapolation). It reproduces torch's CPU
kernels exactly: torch computes bf16 and fp16 ops in float32 and rounds each result to nearest-even (for bf16,
``(bits + 0x7FFF + ((bits >> 16) & 1)) >> 16`` on the float32 bits; numpy's float32->float16 cast rounds the same
way), a Python float scalar is first rounded to float32 (``opmath``) for bf16/fp16/fp32 tensors, and a float64
sft is cast to bf16/fp16 through float32 (two roundings). The tests check the two against each other bit for bit
for every pair of bf16/fp16/fp32/fp64, both precisions, random bit patterns, subnormal, huge and near-tie values
and many alphas.
"""

from __future__ import annotations

import numpy as np

PRECISIONS = ("reference", "fp32")

# safetensors dtype code -> numpy dtype of the stored bits (bf16 has no numpy dtype: its raw uint16 bits)
STORAGE = {"BF16": np.uint16, "F16": np.float16, "F32": np.float32, "F64": np.float64}
_ROUNDING_BIAS = np.uint32(0x7FFF)
_HIGH_HALF = np.uint32(0xFFFF0000)


def extrapolate_tensors(sft, aligned, alpha: float, precision: str = "reference"):
    """``aligned + alpha * (aligned - sft)`` in aligned's dtype with the reference op order (torch tensors).

    The single definition of the op order: ``expo extrapolate`` writes exactly these bits (its numpy kernels are
    tested against this function), and so must anything that computes theta(alpha) in memory.
    """
    import torch

    if precision not in PRECISIONS:
        raise ValueError(f"precision {precision!r} is not one of {', '.join(PRECISIONS)}")
    alpha = float(alpha)
    dtype = aligned.dtype
    if precision == "reference" or dtype == torch.float64:
        if sft.dtype != dtype:
            sft = sft.to(dtype)  # the sft tensor rounded to the aligned dtype
        d = torch.sub(aligned, sft)  # rounded to dtype
        d = torch.mul(d, alpha)  # rounded to dtype (alpha: a Python float)
        return torch.add(aligned, d)  # rounded to dtype
    wide_a = aligned.to(torch.float32)
    wide = torch.sub(wide_a, sft.to(torch.float32))
    wide.mul_(alpha)
    wide.add_(wide_a)
    return wide.to(dtype)  # the single rounding


def _round_bf16_bits(bits: np.ndarray, tmp: np.ndarray, clear_low: bool = True) -> None:
    """Round float32 bits in place to the nearest bfloat16, ties to even (torch's round_to_nearest_even).

    With ``clear_low`` the low 16 bits are cleared, so ``bits`` viewed as float32 is the bf16 value; without, the
    high 16 bits are the bf16 bits (and the float32 view is finite exactly when that bf16 value is).
    """
    np.right_shift(bits, 16, out=tmp)
    np.bitwise_and(tmp, 1, out=tmp)
    np.add(bits, tmp, out=bits)
    np.add(bits, _ROUNDING_BIAS, out=bits)
    if clear_low:
        np.bitwise_and(bits, _HIGH_HALF, out=bits)


def _all_finite(values: np.ndarray) -> bool:
    """Whether a float array has no NaN/Inf: its sum (cheap) is finite when all values are; if it is not
    (NaN, Inf, or a sum that overflows), the exact elementwise test decides."""
    acc = np.float64 if values.dtype == np.float64 else np.float32
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(values, dtype=acc)):
            return True
    return bool(np.isfinite(values).all())


class ChunkMath:
    """Owns the work buffers (sized for ``chunk_elems`` elements) and computes one chunk at a time with numpy.

    Not thread-safe: one instance per compute thread.
    """

    def __init__(self, alpha: float, precision: str, chunk_elems: int) -> None:
        if precision not in PRECISIONS:
            raise ValueError(precision)
        self.alpha = float(alpha)
        self.precision = precision
        self.chunk_elems = chunk_elems
        # torch's opmath: a Python scalar is used as float32 for bf16/fp16/fp32 tensors
        self.alpha32 = np.float32(self.alpha)
        self.alpha64 = np.float64(self.alpha)
        # pages are touched only as far as they are used
        self._wide = np.empty(chunk_elems, np.float64)  # aligned, widened (float32 uses the first half)
        self._work = np.empty(chunk_elems, np.float64)  # d, then alpha * d, then the sum
        self._tmp = np.empty(chunk_elems, np.uint32)
        self._half = np.empty(chunk_elems, np.float16)

    def _f32(self, buf: np.ndarray, count: int) -> np.ndarray:
        return buf.view(np.float32)[:count]

    def _widen(self, raw: np.ndarray, code: str, out: np.ndarray) -> np.ndarray:
        """Exact widening of stored values to float32 (or float64 when ``out`` is float64)."""
        if code == "BF16":
            if out.dtype == np.float64:
                self._widen(raw, code, self._f32(self._tmp, raw.size))
                out[...] = self._tmp.view(np.float32)[: raw.size]
                return out
            bits = out.view(np.uint32)
            np.copyto(bits, raw)  # uint16 -> uint32, then shifted in place (cheaper than one casting shift)
            np.left_shift(bits, 16, out=bits)
            return out
        np.copyto(out, raw, casting="unsafe")  # f16 -> f32/f64, f32 -> f64 are exact; f64 -> f32 rounds (RNE)
        return out

    def _round_to(self, values: np.ndarray, code: str) -> None:
        """Round float32 ``values`` in place to the nearest value of ``code`` (bf16/fp16), as torch casts."""
        if code == "BF16":
            _round_bf16_bits(values.view(np.uint32), self._tmp[: values.size])
        elif code == "F16":
            half = self._half[: values.size]
            np.copyto(half, values, casting="unsafe")
            np.copyto(values, half)

    def extrapolate(
        self, aligned: np.ndarray, aligned_code: str, sft: np.ndarray, sft_code: str, out: np.ndarray
    ):
        """Write ``aligned + alpha * (aligned - sft)`` for one chunk into ``out`` (aligned's storage dtype).

        ``aligned``/``sft``/``out`` are 1-D arrays of stored values (uint16 bits for bf16). Return whether every
        result is finite (when not, ``out`` is undefined: the caller stops).
        """
        count = aligned.size
        if aligned_code == "F64":  # float64 in both modes
            s = sft if sft_code == "F64" else self._widen(sft, sft_code, self._work[:count])
            np.subtract(aligned, s, out=out)
            np.multiply(out, self.alpha64, out=out)
            np.add(aligned, out, out=out)
            return _all_finite(out)
        work = self._f32(self._work, count)
        s = sft if sft_code == "F32" else self._widen(sft, sft_code, work)
        if aligned_code == "F32":  # the same ops in both modes
            np.subtract(aligned, s, out=out)
            np.multiply(out, self.alpha32, out=out)
            np.add(aligned, out, out=out)
            return _all_finite(out)
        if aligned_code == "BF16" and sft_code != "BF16" and not _all_finite(s):
            return False  # NaN/Inf in sft gives NaN/Inf in the result (and NaN payloads must not be rounded)
        a = self._widen(aligned, aligned_code, self._f32(self._wide, count))
        if self.precision == "fp32":
            np.subtract(a, s, out=work)
            np.multiply(work, self.alpha32, out=work)
            np.add(a, work, out=work)
            return self._store(work, aligned_code, out)
        # reference mode, bf16/fp16: every op in float32, each result rounded to the aligned dtype
        if sft_code != aligned_code:
            if s is not work:
                np.copyto(work, s)
            self._round_to(work, aligned_code)  # the sft value cast to the aligned dtype
            s = work
        np.subtract(a, s, out=work)
        self._round_to(work, aligned_code)
        np.multiply(work, self.alpha32, out=work)
        self._round_to(work, aligned_code)
        np.add(a, work, out=work)
        return self._store(work, aligned_code, out)

    def _store(self, work: np.ndarray, code: str, out: np.ndarray) -> bool:
        """Round float32 results to ``code`` (bf16/fp16) into ``out``; return whether all of them are finite."""
        if code == "F16":
            np.copyto(out, work, casting="unsafe")  # round to nearest even, overflow to inf
            return _all_finite(out)
        bits = work.view(np.uint32)
        _round_bf16_bits(bits, self._tmp[: work.size], clear_low=False)
        np.right_shift(bits, 16, out=out, casting="unsafe")
        return _all_finite(work)  # the rounded bf16 value's exponent is kept in the float32 view
