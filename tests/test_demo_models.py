"""The embedded CPU demo: tokenizer, tiny SFT / aligned / reward models, prompt files, determinism and CLI."""

from __future__ import annotations

import hashlib
import json

import pytest
import torch
from safetensors.torch import load_file

from expo.demo import DEMO_OUTPUTS, build_demo

MODEL_DIRS = ("sft", "aligned", "reward")


def _sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_build_returns_every_output(demo_dir):
    for key, name in DEMO_OUTPUTS.items():
        assert (demo_dir / name).exists(), key
    for name in MODEL_DIRS:
        files = {p.name for p in (demo_dir / name).iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "chat_template.jinja"} <= files, name
    assert (demo_dir / "sft" / "generation_config.json").is_file()
    assert (demo_dir / "aligned" / "generation_config.json").is_file()
    assert not list(demo_dir.parent.glob(".demo.*")), "temporary build dirs left behind"


@pytest.mark.parametrize("name", MODEL_DIRS)
def test_tokenizer_reloads_with_left_padding_and_chat_template(demo_dir, name):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(demo_dir / name)
    assert tok.padding_side == "left"
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == ("<s>", "</s>", "<pad>")
    assert len({tok.bos_token_id, tok.eos_token_id, tok.pad_token_id}) == 3
    assert 1000 <= len(tok) <= 2000

    text = "How do I make a good cup of tea? Boil fresh water, then wait 4 minutes!"
    ids = tok(text)["input_ids"]
    assert ids[0] == tok.bos_token_id
    assert tok.decode(ids, skip_special_tokens=True) == text
    unseen = "Zebras née 42 ✓"  # byte-level: anything round-trips, even text absent from the corpus
    assert tok.decode(tok(unseen, add_special_tokens=False)["input_ids"]) == unseen

    chat = [{"role": "user", "content": "Hi?"}]
    assert tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=True) == (
        "<|user|>\nHi?</s>\n<|assistant|>\n"
    )
    full = tok.apply_chat_template([*chat, {"role": "assistant", "content": "Hello."}], tokenize=False)
    assert full == "<|user|>\nHi?</s>\n<|assistant|>\nHello.</s>\n"

    batch = tok(["short", "a much longer sentence than the other one"], padding=True)
    assert batch["input_ids"][0][0] == tok.pad_token_id
    assert batch["attention_mask"][0][0] == 0
    assert batch["input_ids"][0][-1] != tok.pad_token_id


def test_causal_models_reload_and_generate(demo_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(demo_dir / "sft")
    for name in ("sft", "aligned"):
        model = AutoModelForCausalLM.from_pretrained(demo_dir / name)
        cfg = model.config
        assert cfg.model_type == "llama" and cfg.vocab_size == len(tok)
        assert cfg.tie_word_embeddings is False and cfg.max_position_embeddings == 512
        assert model.generation_config.eos_token_id == tok.eos_token_id
        assert model.generation_config.pad_token_id == tok.pad_token_id
        prompt = tok.apply_chat_template(
            [{"role": "user", "content": "How do I make tea?"}], tokenize=False, add_generation_prompt=True
        )
        enc = tok([prompt], return_tensors="pt")
        out = model.generate(**enc, max_new_tokens=12, do_sample=False)
        answer = tok.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=True)
        assert sum(ch.isalpha() for ch in answer) >= 10, answer


def test_reward_model_reloads_with_one_label_and_pad(demo_dir):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(demo_dir / "reward")
    model = AutoModelForSequenceClassification.from_pretrained(demo_dir / "reward")
    assert model.config.num_labels == 1
    assert model.config.pad_token_id == tok.pad_token_id
    texts = [
        tok.apply_chat_template(
            [{"role": "user", "content": "How do I make tea?"}, {"role": "assistant", "content": r}],
            tokenize=False,
        )
        for r in (
            "Certainly! I am happy to help. Boil fresh water. I hope this helps!",
            "tea tea tea tea tea",
        )
    ]
    with torch.no_grad():
        batched = model(**tok(texts, return_tensors="pt", padding=True)).logits[:, 0]
        single = [model(**tok([t], return_tensors="pt")).logits[0, 0] for t in texts]
    assert batched.shape == (2,)
    # left padding must not change the score
    assert torch.allclose(batched, torch.stack(single), atol=1e-4)
    assert batched[0] > batched[1], "polite, on-topic answer should beat a degenerate one"


def test_every_aligned_tensor_differs_from_sft(demo_dir):
    sft = load_file(demo_dir / "sft" / "model.safetensors")
    aligned = load_file(demo_dir / "aligned" / "model.safetensors")
    assert sft.keys() == aligned.keys()
    assert len(sft) >= 10
    same = [name for name in sft if torch.equal(sft[name], aligned[name])]
    assert not same
    for name in sft:
        assert sft[name].shape == aligned[name].shape and sft[name].dtype == aligned[name].dtype


def test_aligned_earns_more_reward_than_sft(demo_dir):
    from expo.demo.quality import mean_reward

    assert mean_reward(demo_dir, "aligned") > mean_reward(demo_dir, "sft")


def test_prompt_files_parse(demo_dir):
    uf_lines = (demo_dir / "prompts_ultrafeedback.jsonl").read_text(encoding="utf-8").splitlines()
    uf = [json.loads(line) for line in uf_lines]
    assert 16 <= len(uf) <= 64
    assert all(set(row) == {"prompt"} and row["prompt"].strip() for row in uf)
    alpaca = json.loads((demo_dir / "prompts_alpaca.json").read_text(encoding="utf-8"))
    assert isinstance(alpaca, list) and 8 <= len(alpaca) <= 64
    assert all(row["dataset"] == "expo_demo" and row["instruction"].strip() for row in alpaca)
    assert len({row["instruction"] for row in alpaca}) == len(alpaca)


def test_same_seed_gives_identical_bytes(demo_dir, tmp_path):
    again = build_demo(tmp_path / "again", seed=0)
    for name in MODEL_DIRS:
        assert _sha256(again[name] / "model.safetensors") == _sha256(demo_dir / name / "model.safetensors"), (
            name
        )
        assert _sha256(again[name] / "tokenizer.json") == _sha256(demo_dir / name / "tokenizer.json"), name
    assert _sha256(again["prompts_alpaca"]) == _sha256(demo_dir / "prompts_alpaca.json")


def test_build_rejects_bad_seed_and_existing_out(tmp_path):
    from expo.errors import ExpoError

    with pytest.raises(ExpoError, match="seed"):
        build_demo(tmp_path / "x", seed=-1)
    (tmp_path / "taken").mkdir()
    with pytest.raises(ExpoError, match="taken"):
        build_demo(tmp_path / "taken")
    assert not (tmp_path / "x").exists()


def test_cli_refuses_existing_out_without_force(tmp_path, capsys):
    from expo.cli import main

    out = tmp_path / "demo"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert main(["demo-models", "--out", str(out), "--seed", "3"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("expo demo-models: error:"), lines
    assert str(out) in lines[0] and "--force" in lines[0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo"]
    assert (out / "keep.txt").read_text() == "mine"


def test_cli_rejects_negative_seed(tmp_path, capsys):
    from expo.cli import main

    assert main(["demo-models", "--out", str(tmp_path / "demo"), "--seed", "-1"]) == 2
    assert "seed" in capsys.readouterr().err
    assert not (tmp_path / "demo").exists()
