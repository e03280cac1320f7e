"""The in-engine α sweep without an engine: θ(α) bit-identical to ``expo extrapolate``, pre-flight errors, resume.

The generation side with the real CPU vLLM is tests/test_sweep_vllm.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from expo.errors import ExpoError
from expo.extrapolate import extrapolate
from expo.sweep import SweepRequest, run
from expo.sweep.run import sweep_grid
from expo.sweep.weights import iter_theta, theta
from helpers.tiny_pair import build_tiny_pair

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    return build_tiny_pair(tmp_path_factory.mktemp("tiny_pair"))


def _written(out: Path) -> dict[str, torch.Tensor]:
    tensors = {}
    for f in sorted(out.glob("*.safetensors")):
        tensors.update(load_file(f))
    return tensors


def _assert_bit_identical(ours: dict, theirs: dict) -> None:
    assert sorted(ours) == sorted(theirs)
    for name, t in theirs.items():
        assert ours[name].dtype == t.dtype, name
        assert ours[name].shape == t.shape, name
        assert torch.equal(ours[name].view(torch.uint8), t.view(torch.uint8)), name


@pytest.mark.parametrize("precision", ["reference", "fp32"])
@pytest.mark.parametrize("alpha", [0.25, 2.0])
def test_theta_is_bit_identical_to_expo_extrapolate(pair, tmp_path, precision, alpha):
    out = extrapolate(
        pair["sft"], pair["aligned"], alpha, tmp_path / "x", precision=precision, progress=False
    )
    ours = dict(iter_theta(pair["sft"], pair["aligned"], alpha, precision))
    theirs = _written(out)
    _assert_bit_identical(ours, theirs)
    # and it is not the aligned model (the swap changes every tensor)
    aligned = load_file(pair["aligned"] / "model.safetensors")
    assert all(not torch.equal(ours[n], aligned[n]) for n in ours)


def test_theta_mixed_dtypes_and_tied_embeddings_match_the_engine(tmp_path):
    """sft in fp32, aligned in bf16 (the cast path); aligned ties lm_head to the embedding (alias left out)."""
    g = torch.Generator().manual_seed(3)
    # up_proj spans three compute chunks (the chunking must not change a bit)
    shapes = {"model.embed_tokens.weight": (40, 1000), "model.layers.0.mlp.up_proj.weight": (600, 1000)}
    sft = {n: torch.randn(s, generator=g) for n, s in shapes.items()}
    aligned = {n: (t + 0.01 * torch.randn(t.shape, generator=g)).to(torch.bfloat16) for n, t in sft.items()}
    aligned["lm_head.weight"] = aligned["model.embed_tokens.weight"].clone()
    for name, tensors, tie in (("sft", sft, True), ("aligned", aligned, True)):
        d = tmp_path / name
        d.mkdir()
        save_file(tensors, d / "model.safetensors")
        (d / "config.json").write_text(
            json.dumps({"architectures": ["LlamaForCausalLM"], "tie_word_embeddings": tie})
        )
    out = extrapolate(tmp_path / "sft", tmp_path / "aligned", 0.7, tmp_path / "x", progress=False)
    ours = dict(iter_theta(tmp_path / "sft", tmp_path / "aligned", 0.7))
    assert "lm_head.weight" not in ours
    _assert_bit_identical(ours, _written(out))


def test_theta_op_order_is_the_authors_bf16_script():
    """Three roundings in bf16 (not one fp32 rounding): differs from fp32 on some elements, equals the script."""
    g = torch.Generator().manual_seed(0)
    sft = torch.randn(4096, generator=g).to(torch.bfloat16)
    aligned = (sft.float() + 0.003 * torch.randn(4096, generator=g)).to(torch.bfloat16)
    script = aligned + 0.3 * (aligned - sft)  # the authors' expression, torch evaluating left to right
    assert torch.equal(theta(aligned, sft, 0.3).view(torch.int16), script.view(torch.int16))
    assert not torch.equal(theta(aligned, sft, 0.3, "fp32"), script)


@pytest.mark.parametrize(
    "alphas,match",
    [
        ((0.5, 0, 1.0), "contains 0"),
        ((0.5, "0.50", 1.0), "duplicate alpha values: 0.5"),
        (("-1",), "negative"),
        (("abc",), "not a number"),
    ],
)
def test_bad_grid_is_one_error(alphas, match):
    with pytest.raises(ExpoError, match=match):
        sweep_grid(alphas)


def _request(pair, tmp_path, **kw) -> SweepRequest:
    fields = dict(
        sft=str(pair["sft"]),
        aligned=str(pair["aligned"]),
        pair="tiny",
        alphas=(0.25, 0.5),
        prompts=str(pair["prompts"]),
        out_dir=str(tmp_path / "out"),
    )
    fields.update(kw)
    return SweepRequest(**fields)


def test_architecture_mismatch_is_caught_before_the_engine(pair, tmp_path):
    other = tmp_path / "other_sft"
    other.mkdir()
    tensors = load_file(pair["sft"] / "model.safetensors")
    tensors["model.layers.1.mlp.up_proj.weight"] = tensors["model.layers.1.mlp.up_proj.weight"][:64].clone()
    save_file(tensors, other / "model.safetensors", metadata={"format": "pt"})
    for f in pair["sft"].iterdir():
        if f.suffix != ".safetensors":
            (other / f.name).write_bytes(f.read_bytes())
    with pytest.raises(ExpoError, match=r"shape mismatch in tensor model.layers.1.mlp.up_proj.weight"):
        run(_request(pair, tmp_path, sft=str(other)))
    assert not (tmp_path / "out").exists()


def test_not_enough_memory_says_how_much(pair, tmp_path):
    with pytest.raises(
        ExpoError, match=r"not enough memory for the in-engine sweep of tiny: needs [0-9.]+ GB"
    ):
        run(_request(pair, tmp_path, memory_limit_gb=0.001))
    assert not (tmp_path / "out").exists()


def test_transformers_backend_is_refused(pair, tmp_path):
    with pytest.raises(ExpoError, match="needs the vllm backend"):
        run(_request(pair, tmp_path, backend="transformers"))


def test_existing_outputs_are_skipped_without_an_engine(pair, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    for a in ("0.0", "0.25", "0.5"):
        (out / f"tiny_alpha{a}.jsonl").write_text(
            '{"prompt": "p", "output": "o", "length": 1, "finish_reason": "stop"}\n'
        )
    result = run(_request(pair, tmp_path))
    assert result.engine_starts == 0
    assert result.skipped == ["0.0", "0.25", "0.5"]


def test_cli_error_is_one_line_and_writes_nothing(pair, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "expo", "sweep", "--sft", str(pair["sft"]), "--aligned", str(pair["aligned"]),
         "--pair", "tiny", "--alphas", "0.5", "0", "--prompts", str(pair["prompts"]),
         "--out-dir", str(tmp_path / "out")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "code")},
    )  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert lines == [
        "expo sweep: error: alpha grid ['0.5', '0'] contains 0: alpha 0 is the aligned model, always generated"
    ]
    assert not (tmp_path / "out").exists()


def test_header_of_safetensors_untouched_by_sweep(pair):
    """The sweep reads the checkpoints only: their bytes are unchanged after computing θ(α)."""
    before = (pair["aligned"] / "model.safetensors").read_bytes()
    list(iter_theta(pair["sft"], pair["aligned"], 1.0))
    assert (pair["aligned"] / "model.safetensors").read_bytes() == before
    with safe_open(pair["aligned"] / "model.safetensors", "pt") as f:
        assert len(list(f.keys())) > 0


@pytest.fixture(scope="module")
def tiny_reward_model(pair, tmp_path_factory):
    from transformers import AutoTokenizer, LlamaConfig, LlamaForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(pair["aligned"])
    config = LlamaConfig.from_pretrained(pair["aligned"], num_labels=1, dtype="float32")
    config.architectures = ["LlamaForSequenceClassification"]
    torch.manual_seed(5)
    model = LlamaForSequenceClassification(config).float()
    out = tmp_path_factory.mktemp("rm") / "rm"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def test_reward_scores_several_outputs_files_with_one_model_load(tiny_reward_model, tmp_path, monkeypatch):
    import expo.reward.run as reward_run

    files = []
    for i, text in enumerate(["short answer", "a rather longer answer about tea and rice", "x"]):
        path = tmp_path / f"o{i}.jsonl"
        rows = [
            {"prompt": f"question {k}", "output": f"{text} {k}", "length": 3, "finish_reason": "stop"}
            for k in range(4)
        ]
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        files.append((str(path), str(tmp_path / f"r{i}.jsonl")))
    loads = []
    real = reward_run.RewardScorer
    monkeypatch.setattr(reward_run, "RewardScorer", lambda *a, **k: loads.append(1) or real(*a, **k))
    together = reward_run.run(
        reward_run.RewardRequest(
            str(tiny_reward_model), [o for o, _ in files], [r for _, r in files], batch_size=3, dtype="fp32"
        )
    )
    assert len(loads) == 1
    for (outputs, out), scores in zip(files, together, strict=True):
        written = [float(x) for x in Path(out).read_text().split()]
        assert written == scores
        alone = reward_run.run(
            reward_run.RewardRequest(
                str(tiny_reward_model), outputs, str(tmp_path / "alone.jsonl"), 3, "fp32"
            )
        )
        assert alone == scores
    assert len({tuple(s) for s in together}) == 3


def test_reward_cli_needs_one_out_per_outputs(tiny_reward_model, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "expo", "reward", "--rm", str(tiny_reward_model), "--outputs", "a.jsonl", "b.jsonl",
         "--out", str(tmp_path / "r.jsonl")],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "code")},
    )  # fmt: skip
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "expo reward: error: 2 --outputs file(s) but 1 --out file(s): give one rewards file per outputs file"
    ]


def test_kept_progress_file_rebuilds_a_deleted_output_without_an_engine(pair, tmp_path):
    """What a rerun after Snakemake deleted a killed sweep job's outputs relies on (generate(keep_sidecar=True))."""
    from expo.generation.outputs import sidecar_path
    from expo.generation.run import GenerateRequest, generate
    from expo.generation.sampling import SamplingSettings
    from expo.sweep.run import _remove_sidecars

    out = tmp_path / "tiny_alpha0.5.jsonl"
    req = GenerateRequest(
        model=str(pair["aligned"]), prompts=str(pair["prompts"]), out=str(out), backend="transformers",
        sampling=SamplingSettings(max_new_tokens=4), limit=2,
    )  # fmt: skip
    generate(req, weights="theta(alpha=0.5)", keep_sidecar=True)
    first = out.read_text()
    assert sidecar_path(out).exists()
    out.unlink()

    def no_engine():
        raise AssertionError("an engine was started although every prompt was done")

    generate(req, backend_factory=no_engine, weights="theta(alpha=0.5)", keep_sidecar=True)
    assert out.read_text() == first
    with pytest.raises(
        AssertionError, match="an engine was started"
    ):  # other weights: the progress is not reused
        generate(req, backend_factory=no_engine, weights="theta(alpha=1.0)", keep_sidecar=True)
    _remove_sidecars({"0.5": out})
    assert not sidecar_path(out).exists()
