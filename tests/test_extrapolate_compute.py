"""The engine's torch-free kernels give exactly torch's bits: ``ChunkMath`` (numpy) against ``extrapolate_tensors``.

Every pair of bf16/fp16/fp32/fp64 (aligned, sft), both precisions, alphas 0.1/0.3/2.5/25.0 (and 0, 1e-4, 7),
on values of several kinds: fine-tuning-like (aligned = sft + small noise), every magnitude from subnormal to
near overflow, subnormals only, random bit patterns of the 16-bit formats (every finite value equally likely) and
float64 values next to the ties of the 16-bit formats (a float64 sft is cast through float32, twice rounded).
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from expo.extrapolate.compute import STORAGE, ChunkMath, extrapolate_tensors

TORCH = {"BF16": torch.bfloat16, "F16": torch.float16, "F32": torch.float32, "F64": torch.float64}
CODES = list(TORCH)
ALPHAS = [0.1, 0.3, 2.5, 25.0, 0.0, 1e-4, 7.0]
N = 1 << 15


def as_numpy(t: torch.Tensor, code: str) -> np.ndarray:
    return t.contiguous().view(torch.uint8).numpy().view(STORAGE[code])


def value_sets(code_aligned: str, code_sft: str, rng: np.random.Generator) -> dict[str, tuple]:
    """name -> (sft, aligned) torch tensors of the given dtypes, all finite."""
    sets = {}
    base = rng.standard_normal(N) * 0.02
    sets["finetuned"] = (base, base + 1e-3 * rng.standard_normal(N))
    mag = np.sign(rng.standard_normal(N)) * 2.0 ** rng.uniform(-149, 128, N)
    sets["all magnitudes"] = (mag, mag * (1 + rng.standard_normal(N) * 10.0 ** rng.uniform(-9, 0.5, N)))
    tiny = rng.standard_normal(N) * 1e-39
    sets["subnormal"] = (tiny, tiny + rng.standard_normal(N) * 1e-40)
    out = {}
    with np.errstate(over="ignore"):
        for name, (s, a) in sets.items():
            out[name] = (torch.from_numpy(s).to(TORCH[code_sft]), torch.from_numpy(a).to(TORCH[code_aligned]))
    if code_aligned == code_sft and code_aligned in ("BF16", "F16"):
        bits = [torch.from_numpy(rng.integers(0, 1 << 16, N, dtype=np.uint16).view(np.int16)) for _ in "sa"]
        out["random bits"] = tuple(b.view(TORCH[code_aligned]) for b in bits)
    if code_sft == "F64" and code_aligned in ("BF16", "F16"):
        # float64 values just off the midpoints between neighbouring 16-bit values: double rounding shows here
        lo = torch.from_numpy(rng.standard_normal(N)).to(TORCH[code_aligned])
        hi = torch.nextafter(lo, torch.tensor(float("inf"), dtype=lo.dtype))
        mid = (lo.double() + hi.double()) / 2
        nudge = torch.from_numpy(rng.choice([-1.0, 0.0, 1.0], N)) * 2.0**-40 * mid.abs()
        out["near ties"] = (mid + nudge, lo)
    return {name: _finite(s, a) for name, (s, a) in out.items()}


def _finite(s: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    keep = torch.isfinite(s) & torch.isfinite(a)
    return s[keep].contiguous(), a[keep].contiguous()


def numpy_result(s: torch.Tensor, a: torch.Tensor, code_s: str, code_a: str, alpha: float, precision: str):
    math = ChunkMath(alpha, precision, a.numel())
    out = np.empty(a.numel(), STORAGE[code_a])
    with np.errstate(all="ignore"):
        finite = math.extrapolate(as_numpy(a, code_a), code_a, as_numpy(s, code_s), code_s, out)
    return out, finite


@pytest.mark.parametrize("code_sft", CODES)
@pytest.mark.parametrize("code_aligned", CODES)
def test_numpy_kernels_equal_torch_bit_for_bit(code_aligned, code_sft):
    rng = np.random.default_rng(CODES.index(code_aligned) * 4 + CODES.index(code_sft))
    checked = 0
    for kind, (s, a) in value_sets(code_aligned, code_sft, rng).items():
        for precision in ("reference", "fp32"):
            for alpha in ALPHAS:
                want = extrapolate_tensors(s, a, alpha, precision)
                finite = torch.isfinite(want)
                got, got_finite = numpy_result(s, a, code_sft, code_aligned, alpha, precision)
                where = f"{kind}, {precision}, alpha={alpha}"
                assert got_finite == bool(finite.all()), f"finite flag differs: {where}"
                if not got_finite:  # out is undefined then: compare on the elements whose result is finite
                    s_f, a_f, want = s[finite].contiguous(), a[finite].contiguous(), want[finite].contiguous()
                    got, got_finite = numpy_result(s_f, a_f, code_sft, code_aligned, alpha, precision)
                    assert got_finite, where
                want_np = as_numpy(want, code_aligned)
                differ = np.flatnonzero(want_np.view(np.uint8).reshape(want_np.size, -1) != got.view(np.uint8)
                                        .reshape(got.size, -1))  # fmt: skip
                assert differ.size == 0, f"{differ.size} elements differ ({where})"
                checked += want_np.size
    assert checked > 10 * N


def test_overflow_and_nan_are_reported_not_finite():
    a = torch.tensor([3.0e38, 1.0, -2.0], dtype=torch.bfloat16)
    s = torch.tensor([-3.0e38, 1.0, -2.0], dtype=torch.bfloat16)
    assert not torch.isfinite(extrapolate_tensors(s, a, 0.3)).all()
    assert not numpy_result(s, a, "BF16", "BF16", 0.3, "reference")[1]
    # a NaN in a float32 sft must not be rounded into a finite bf16 value (NaN payload bits)
    nan_payload = torch.from_numpy(np.array([0xFFFFFFFF, 0x3F800000], np.uint32).view(np.int32)).view(
        torch.float32
    )
    a2 = torch.tensor([1.0, 1.0], dtype=torch.bfloat16)
    for precision in ("reference", "fp32"):
        assert not numpy_result(nan_payload, a2, "F32", "BF16", 0.5, precision)[1]
    a3 = torch.tensor([6.0e4, 1.0], dtype=torch.float16)
    assert not numpy_result(
        torch.tensor([-6.0e4, 1.0], dtype=torch.float16), a3, "F16", "F16", 0.5, "reference"
    )[1]


def test_extrapolate_tensors_is_the_authors_expression():
    gen = torch.Generator().manual_seed(3)
    s = torch.randn(1000, generator=gen).to(torch.bfloat16)
    a = (s.float() + 0.01 * torch.randn(1000, generator=gen)).to(torch.bfloat16)
    for alpha in (0.1, 0.3, 2.5, 25.0):
        assert torch.equal(extrapolate_tensors(s, a, alpha), a + alpha * (a - s))


def test_streaming_engine_does_not_import_torch(tmp_path):
    from safetensors.numpy import save_file

    rng = np.random.default_rng(0)
    for role in ("sft", "aligned"):
        (tmp_path / role).mkdir()
        save_file(
            {"w": rng.standard_normal(64).astype(np.float32)}, str(tmp_path / role / "model.safetensors")
        )
    code = (
        "import sys; from expo.extrapolate import extrapolate; "
        f"extrapolate({str(tmp_path / 'sft')!r}, {str(tmp_path / 'aligned')!r}, 0.3, {str(tmp_path / 'out')!r}, "
        "progress=False); print(sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "out" / "model.safetensors.index.json").is_file()
