"""End-to-end tests of ``expo extrapolate`` on tiny transformers Llama models and on a killed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from expo.extrapolate import extrapolate

ALPHA = 0.5


def tiny_llama_pair(tmp_path: Path, tie: bool, max_shard_size: str = "50GB") -> tuple[Path, Path]:
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=96,
        tie_word_embeddings=tie,
    )
    torch.manual_seed(0)
    sft = LlamaForCausalLM(config).to(torch.bfloat16)
    sft.save_pretrained(tmp_path / "sft", max_shard_size=max_shard_size)
    with torch.no_grad():
        for p in sft.parameters():
            p.add_(0.01 * torch.randn_like(p))
    sft.save_pretrained(tmp_path / "aligned", max_shard_size="20KB")
    (tmp_path / "aligned" / "chat_template.jinja").write_text("{{ messages[0]['content'] }}")
    return tmp_path / "sft", tmp_path / "aligned"


def reference_loop(sft: Path, aligned: Path, alpha: float):
    """The authors' approach: from_pretrained both in bf16, update every named parameter of the aligned model."""
    from transformers import AutoModelForCausalLM

    model_sft = AutoModelForCausalLM.from_pretrained(sft, dtype=torch.bfloat16)
    model = AutoModelForCausalLM.from_pretrained(aligned, dtype=torch.bfloat16)
    sft_params = dict(model_sft.named_parameters())
    with torch.no_grad():
        for name, p_al in model.named_parameters():
            p_al.data = p_al.data + alpha * (p_al.data - sft_params[name].data)
    return model


@pytest.mark.parametrize("tie", [True, False])
def test_output_loads_with_transformers_and_equals_reference_loop(tmp_path, tie):
    from transformers import AutoModelForCausalLM

    sft, aligned = tiny_llama_pair(tmp_path, tie=tie, max_shard_size="30KB")
    assert len(list(aligned.glob("*.safetensors"))) > 1
    out = extrapolate(sft, aligned, ALPHA, tmp_path / "out", progress=False)
    assert (out / "chat_template.jinja").exists()
    got = AutoModelForCausalLM.from_pretrained(out, dtype=torch.bfloat16)
    want = reference_loop(sft, aligned, ALPHA)
    got_params = dict(got.named_parameters())
    want_params = dict(want.named_parameters())
    assert set(got_params) == set(want_params)
    for name, param in want_params.items():
        assert torch.equal(got_params[name], param), name
    if tie:
        assert got.lm_head.weight.data_ptr() == got.model.embed_tokens.weight.data_ptr()
    aligned_model = AutoModelForCausalLM.from_pretrained(aligned, dtype=torch.bfloat16)
    assert not torch.equal(got.model.norm.weight, aligned_model.model.norm.weight)


def _big_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A float32 pair of 6 x 1 MB tensors (written slowly by the child, so a kill lands mid-write)."""
    gen = torch.Generator().manual_seed(0)
    dirs = []
    for role in ("sft", "aligned"):
        d = tmp_path / role
        d.mkdir()
        (d / "config.json").write_text(json.dumps({"tie_word_embeddings": False}))
        save_file({f"w{i}": torch.randn(1 << 18, generator=gen) for i in range(6)}, d / "model.safetensors")
        dirs.append(d)
    return dirs[0], dirs[1]


# The child slows its writes down (a test-only patch applied in the child) so the kill lands mid-write.
SLOW_CHILD = """
import sys, time
import expo.extrapolate.writer as w
write = w.ShardedSafetensorsWriter.write
def slow_write(self, data):
    time.sleep(0.05)
    return write(self, data)
w.ShardedSafetensorsWriter.write = slow_write
import expo.extrapolate.engine as e
e.CHUNK_ELEMS = 1 << 14
from expo.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_killed_run_leaves_no_output_and_rerun_succeeds(tmp_path):
    sft, aligned = _big_pair(tmp_path)
    out = tmp_path / "models" / "out"
    args = ["extrapolate", "--sft", str(sft), "--aligned", str(aligned), "--alpha", "0.3", "--out", str(out)]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SLOW_CHILD, *args], env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        shard = None
        while time.monotonic() < deadline and proc.poll() is None:
            shards = list(out.parent.glob(f".{out.name}.*.tmp/*.safetensors"))
            if shards and shards[0].stat().st_size > (1 << 17):
                shard = shards[0]
                break
            time.sleep(0.01)
        assert shard is not None, "the run never started writing (or finished before it could be killed)"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()
    leftovers = list(out.parent.glob(f".{out.name}.*.tmp"))
    assert leftovers, "the killed run's temp dir should still be there (nothing can clean up after SIGKILL)"

    extrapolate(sft, aligned, 0.3, out, progress=False)  # the rerun
    assert not any(p.exists() for p in leftovers), "the rerun should remove the dead run's temp dir"
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert sorted(index["weight_map"]) == [f"w{i}" for i in range(6)]
    assert (out / "expo_provenance.json").exists()
    with (
        safe_open(out / index["weight_map"]["w5"], framework="pt") as got,
        safe_open(sft / "model.safetensors", framework="pt") as fs,
        safe_open(aligned / "model.safetensors", framework="pt") as fa,
    ):
        a, s = fa.get_tensor("w5"), fs.get_tensor("w5")
        assert torch.equal(got.get_tensor("w5"), a + 0.3 * (a - s))
