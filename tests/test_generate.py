"""expo generate with the transformers backend on the demo models: formats, seeding, and every user error."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from expo.cli import main
from expo.generation.outputs import ALPACA_KEYS, UF_KEYS, read_outputs
from expo.generation.prompts import read_prompts
from expo.generation.sampling import SamplingSettings

FAST = ["--backend", "transformers", "--max-new-tokens", "8"]


def run_generate(capsys, *args) -> tuple[int, str]:
    rc = main(["generate", *map(str, args)])
    return rc, capsys.readouterr().err


def write_prompts(path: Path, n: int) -> Path:
    topics = ["tea", "sleep", "running", "coffee", "books", "music", "rain", "bread", "cats", "maps"]
    path.write_text(
        "".join(json.dumps({"prompt": f"Tell me about {topics[i % 10]} {i}."}) + "\n" for i in range(n))
    )
    return path


def test_ultrafeedback_format_and_same_seed_same_text(demo_dir, tmp_path, capsys, caplog):
    caplog.set_level("INFO")
    prompts = write_prompts(tmp_path / "p.jsonl", 6)
    outs = []
    for name, seed in [("a", 42), ("b", 42), ("c", 7)]:
        out = tmp_path / f"{name}.jsonl"
        rc, err = run_generate(capsys, "--model", demo_dir / "aligned", "--prompts", prompts, "--out", out,
                               *FAST, "--batch-size", 4, "--seed", seed)  # fmt: skip
        assert rc == 0, err
        outs.append([json.loads(line) for line in out.read_text().splitlines()])
    a, b, c = outs
    assert len(a) == 6
    for row, prompt in zip(a, read_prompts(prompts), strict=True):
        assert tuple(row) == UF_KEYS
        assert row["prompt"] == prompt.text
        assert row["finish_reason"] in ("stop", "length")
        assert 1 <= row["length"] <= 8
        if row["finish_reason"] == "length":
            assert row["length"] == 8
    assert a == b, "same seed must give the same outputs"
    assert [r["output"] for r in a] != [r["output"] for r in c], "a different seed should change some output"
    assert "presence/frequency penalties" in caplog.text and "repetition_penalty" in caplog.text
    assert not (tmp_path / "a.jsonl.partial.jsonl").exists()
    # the provenance file beside each outputs file holds the sampling settings actually used
    for name, seed in [("a", 42), ("c", 7)]:
        prov = json.loads((tmp_path / f"{name}.provenance.json").read_text())
        assert prov["sampling"] == SamplingSettings(seed=seed, max_new_tokens=8).as_dict()
        assert prov["backend"] == "transformers" and prov["model"] == str(demo_dir / "aligned")
        assert prov["prompts"]["n"] == 6 and prov["versions"]["transformers"]


def test_alpaca_format_matches_published_reader(demo_dir, shared_data, tmp_path, capsys):
    published = shared_data / "alpaca_eval" / "published" / "zephyr-7b-beta.json"
    # published -> our reader
    records = read_outputs(published)
    assert len(records) == 805 and records[0].prompt and records[0].output
    # our writer -> the published reader (plain JSON list with exactly the published keys)
    prompts = tmp_path / "ae.json"
    prompts.write_text(json.dumps(json.loads(published.read_text())[:3]))
    out = tmp_path / "outputs_alpaca" / "demo_alpha0.0.json"
    rc, err = run_generate(capsys, "--model", demo_dir / "aligned", "--prompts", prompts, "--out", out, *FAST,
                           "--generator", "demo_alpha0.0")  # fmt: skip
    assert rc == 0, err
    ours = json.loads(out.read_text())
    theirs = json.loads(published.read_text())
    assert isinstance(ours, list) and len(ours) == 3
    for mine, ref in zip(ours, theirs, strict=False):
        assert set(mine) == set(ref) == set(ALPACA_KEYS)
        assert mine["instruction"] == ref["instruction"] and mine["dataset"] == ref["dataset"]
        assert mine["generator"] == "demo_alpha0.0"
    assert [r.prompt for r in read_outputs(out)] == [r["instruction"] for r in theirs[:3]]


def test_generator_defaults_to_model_dir_name(demo_dir, tmp_path, capsys):
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"instruction": "Say hi.", "dataset": "x"}]))
    out = tmp_path / "o.json"
    rc, err = run_generate(capsys, "--model", demo_dir / "aligned", "--prompts", prompts, "--out", out, *FAST)
    assert rc == 0, err
    assert json.loads(out.read_text())[0]["generator"] == "aligned"


def _no_template_model(demo_dir: Path, tmp_path: Path) -> Path:
    model = tmp_path / "no_template"
    shutil.copytree(demo_dir / "aligned", model)
    (model / "chat_template.jinja").unlink(missing_ok=True)
    cfg_path = model / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text())
    cfg.pop("chat_template", None)
    cfg_path.write_text(json.dumps(cfg))
    return model


def test_model_without_chat_template_errors_and_chat_template_option_fixes_it(demo_dir, tmp_path, capsys):
    model = _no_template_model(demo_dir, tmp_path)
    prompts = write_prompts(tmp_path / "p.jsonl", 2)
    out = tmp_path / "o.jsonl"
    rc, err = run_generate(capsys, "--model", model, "--prompts", prompts, "--out", out, *FAST)
    assert rc == 2
    assert f"model {model} has no chat template" in err and "--chat-template" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
    template = tmp_path / "t.jinja"
    template.write_text((demo_dir / "aligned" / "chat_template.jinja").read_text())
    rc, err = run_generate(
        capsys, "--model", model, "--prompts", prompts, "--out", out, *FAST, "--chat-template", template
    )
    assert rc == 0, err
    assert len(out.read_text().splitlines()) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found"),
        ("", "is empty"),
        ('{"prompt": "ok"}\n{"prompt": "broken"\n', ":2: malformed JSON line"),
        ('{"prompt": "ok"}\n{"text": "no prompt"}\n', ":2: record has neither 'prompt' nor 'instruction'"),
        ('[{"instruction": "ok"}, {"instruction": ""}]', "item 1: prompt is empty"),
    ],
)
def test_bad_prompt_files(demo_dir, tmp_path, capsys, content, message):
    prompts = tmp_path / "p.jsonl"
    if content is not None:
        prompts.write_text(content)
    out = tmp_path / "o.jsonl"
    rc, err = run_generate(capsys, "--model", demo_dir / "aligned", "--prompts", prompts, "--out", out, *FAST)
    assert rc == 2
    assert str(prompts) in err and message in err
    assert not out.exists()


def test_missing_model_dir(tmp_path, capsys):
    prompts = write_prompts(tmp_path / "p.jsonl", 1)
    rc, err = run_generate(
        capsys, "--model", tmp_path / "nope", "--prompts", prompts, "--out", tmp_path / "o.jsonl"
    )
    assert rc == 2 and f"model directory {tmp_path / 'nope'} not found" in err


def test_vllm_backend_without_vllm_installed(demo_dir, tmp_path, capsys, monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "vllm" else real_find_spec(name, *a)
    )
    prompts = write_prompts(tmp_path / "p.jsonl", 1)
    out = tmp_path / "o.jsonl"
    rc, err = run_generate(
        capsys, "--model", demo_dir / "aligned", "--prompts", prompts, "--out", out, "--backend", "vllm"
    )
    assert rc == 2 and "vllm is not installed" in err and "--backend transformers" in err
    assert not out.exists()


def test_output_penalties_follow_vllm_definition():
    import torch

    from expo.generation.transformers_backend import make_output_penalties

    penalties = make_output_penalties(prompt_width=3, presence_penalty=0.1, frequency_penalty=0.25)
    # row 0: prompt [5, 5, 6] (not penalised), generated [5, 5, 7]; row 1: nothing generated twice
    input_ids = torch.tensor([[5, 5, 6, 5, 5, 7], [2, 2, 2, 9, 8, 1]])
    scores = torch.zeros(2, 10)
    out = penalties(input_ids, scores)
    assert out[0, 5].item() == pytest.approx(-(2 * 0.25 + 0.1))
    assert out[0, 7].item() == pytest.approx(-(0.25 + 0.1))
    assert out[0, 6].item() == 0.0 and out[1, 2].item() == 0.0  # prompt-only tokens
    assert out[1, 9].item() == pytest.approx(-0.35) and out[1, 0].item() == 0.0
    assert torch.equal(penalties(input_ids[:, :3], scores), scores)  # nothing generated yet


def test_stop_token_ids_end_generation_and_count_in_length(demo_dir, tmp_path, capsys):
    """Every id is a stop id: each answer stops at its first token, which counts in length (as in vLLM)."""
    prompts = write_prompts(tmp_path / "p.jsonl", 3)
    out = tmp_path / "o.jsonl"
    every_id = [str(i) for i in range(1300)]
    rc, err = run_generate(capsys, "--model", demo_dir / "aligned", "--prompts", prompts, "--out", out, *FAST,
                           "--stop-token-ids", *every_id)  # fmt: skip
    assert rc == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["output"], r["length"], r["finish_reason"]) for r in rows] == [("", 1, "stop")] * 3
