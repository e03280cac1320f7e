"""expo reward on the demo reward model: raw logits equal an independent plain-transformers forward pass per
record (the paper's recipe: RM chat template, BOS string removed, tokenizer adds one BOS), original order, errors."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from expo.cli import main
from expo.errors import ExpoError
from expo.generation.outputs import OutputRecord
from expo.io.records import read_floats
from expo.reward.scoring import (
    RewardScorer,
    direct_scores,
    encode_texts,
    length_sorted_batches,
    padding_stats,
    reward_texts,
    verify_scores,
)

RESPONSES = [
    "Yes.",
    "Boil water, add the leaves, wait three minutes and pour. Enjoy it with milk or lemon if you like.",
    "Great question, thank you for asking! Sleep at the same time every night.",
    "No",
    "Run slowly at first, then a little longer every week, and rest well between runs so your legs recover.",
    "Maps help.",
    "Bread needs flour, water, salt and yeast; knead, let it rise, and bake it until golden.",
]


@pytest.fixture(scope="module")
def scorer(demo_dir):
    return RewardScorer(str(demo_dir / "reward"))


@pytest.fixture(scope="module")
def plain_scores(demo_dir):
    """The reference, without expo.reward: a fresh fp32 model, one unpadded forward pass per record."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(demo_dir / "reward")
    model = AutoModelForSequenceClassification.from_pretrained(
        demo_dir / "reward", dtype=torch.float32
    ).eval()

    def score(recs):
        out = []
        for r in recs:
            chat = [{"role": "user", "content": r.prompt}, {"role": "assistant", "content": r.output}]
            text = tok.apply_chat_template(chat, tokenize=False, add_generation_prompt=False)
            inputs = tok(text.replace(tok.bos_token, ""), return_tensors="pt")
            with torch.inference_mode():
                out.append(model(**inputs).logits[0, 0].item())
        return out

    return score


def records():
    return [OutputRecord(f"Question {i}?", r) for i, r in enumerate(RESPONSES)]


def test_text_has_one_bos_and_the_chat_template(scorer):
    tok = scorer.tokenizer
    texts = reward_texts(tok, records())
    assert texts[0] == tok.apply_chat_template(
        [{"role": "user", "content": "Question 0?"}, {"role": "assistant", "content": "Yes."}], tokenize=False
    ).replace(tok.bos_token, "")
    for ids in encode_texts(tok, texts):
        assert ids.count(tok.bos_token_id) == 1 and ids[0] == tok.bos_token_id


def test_batched_scores_equal_batch_one_and_keep_order(scorer, plain_scores):
    recs = records()
    scores = scorer.score_records(recs, batch_size=3)
    reference = plain_scores(recs)
    assert scores == pytest.approx(reference, abs=1e-5)
    assert direct_scores(scorer, recs) == pytest.approx(reference, abs=1e-5)
    assert verify_scores(scorer, recs, scores) <= 1e-5
    assert len(set(scores)) == len(scores)
    # raw logits (no sigmoid): the demo RM gives values outside [0, 1]
    assert any(s < 0 or s > 1 for s in scores)
    # original order: scoring the reversed list reverses the scores
    assert scorer.score_records(recs[::-1], batch_size=3) == pytest.approx(scores[::-1], abs=1e-5)


def test_verify_scores_catches_a_wrong_score(scorer):
    recs = records()[:2]
    scores = direct_scores(scorer, recs)
    scores[1] += 0.01
    with pytest.raises(ExpoError, match="record 1"):
        verify_scores(scorer, recs, scores)


def test_sorted_batches_save_padding():
    lengths = [5, 50, 6, 48, 7, 49]
    assert length_sorted_batches(lengths, 2) == [[1, 5], [3, 4], [2, 0]]
    stats = padding_stats(lengths, 2)
    assert stats.real_tokens == 165
    assert stats.padding_unsorted == (50 - 5) + (48 - 6) + (49 - 7)
    assert stats.padding_sorted == (50 - 49) + (48 - 7) + (6 - 5)


def test_cli_both_formats(demo_dir, plain_scores, tmp_path, capsys, caplog):
    caplog.set_level("INFO")
    recs = records()
    uf = tmp_path / "outputs.jsonl"
    uf.write_text("".join(json.dumps({"prompt": r.prompt, "output": r.output, "length": 3,
                                      "finish_reason": "stop"}) + "\n" for r in recs))  # fmt: skip
    alpaca = tmp_path / "outputs.json"
    alpaca.write_text(json.dumps([{"dataset": "d", "instruction": r.prompt, "output": r.output, "generator": "g"}
                                  for r in recs]))  # fmt: skip
    expected = plain_scores(recs)
    for src in (uf, alpaca):
        out = tmp_path / f"rewards_{src.suffix[1:]}.jsonl"
        rc = main(["reward", "--rm", str(demo_dir / "reward"), "--outputs", str(src), "--out", str(out),
                   "--batch-size", "4", "--verify", "7"])  # fmt: skip
        assert rc == 0, capsys.readouterr().err
        assert read_floats(out) == pytest.approx(expected, abs=1e-5)
    assert "padding tokens saved" in caplog.text
    assert "verified 7 scores against batch-1 passes" in caplog.text


def test_errors(demo_dir, tmp_path, capsys):
    outputs = tmp_path / "o.jsonl"
    outputs.write_text('{"prompt": "p", "output": "o"}\n')
    out = tmp_path / "r.jsonl"

    def err(*args):
        assert main(["reward", *map(str, args)]) == 2
        message = capsys.readouterr().err
        assert len(message.strip().splitlines()) == 1
        assert not out.exists()
        return message

    # a causal LM is not a reward model
    assert "is not a sequence classifier (architectures: ['LlamaForCausalLM'])" in err(
        "--rm", demo_dir / "aligned", "--outputs", outputs, "--out", out
    )
    two_labels = tmp_path / "two_labels"
    shutil.copytree(demo_dir / "reward", two_labels)
    cfg = json.loads((two_labels / "config.json").read_text())
    cfg["id2label"] = {"0": "bad", "1": "good"}
    cfg["label2id"] = {"bad": 0, "good": 1}
    (two_labels / "config.json").write_text(json.dumps(cfg))
    assert f"reward model {two_labels} has 2 labels" in err(
        "--rm", two_labels, "--outputs", outputs, "--out", out
    )
    no_template = tmp_path / "no_template"
    shutil.copytree(demo_dir / "reward", no_template)
    (no_template / "chat_template.jinja").unlink(missing_ok=True)
    tok_cfg = json.loads((no_template / "tokenizer_config.json").read_text())
    tok_cfg.pop("chat_template", None)
    (no_template / "tokenizer_config.json").write_text(json.dumps(tok_cfg))
    assert f"reward model {no_template} has no chat template" in err(
        "--rm", no_template, "--outputs", outputs, "--out", out
    )
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "p", "output": "o"}\n{"prompt": "p"}\n')
    assert f"outputs file {bad}:2: needs string 'prompt' and 'output'" in err(
        "--rm", demo_dir / "reward", "--outputs", bad, "--out", out
    )
    assert "reward model directory" in err("--rm", tmp_path / "none", "--outputs", outputs, "--out", out)
