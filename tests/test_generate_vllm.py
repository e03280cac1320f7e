"""expo generate --backend vllm against the stand-in vllm package (tests/fake_vllm): the arguments vLLM gets."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from expo.cli import main
from expo.generation.templating import chat_prompt_ids

FAKE_VLLM = Path(__file__).parent / "fake_vllm"


@pytest.fixture
def fake_vllm(monkeypatch):
    monkeypatch.syspath_prepend(str(FAKE_VLLM))
    monkeypatch.delitem(sys.modules, "vllm", raising=False)
    import vllm

    assert Path(vllm.__file__).is_relative_to(FAKE_VLLM)
    vllm.CALLS.clear()
    yield vllm
    sys.modules.pop("vllm", None)


def calls(vllm, kind):
    return [arg for name, arg in vllm.CALLS if name == kind]


def test_vllm_gets_paper_settings_and_templated_ids(fake_vllm, demo_dir, tmp_path, capsys):
    prompts = tmp_path / "p.jsonl"
    texts = ["How do I make tea?", "Name a fruit.", "Why is the sky blue?"]
    prompts.write_text("".join(json.dumps({"prompt": t}) + "\n" for t in texts))
    out = tmp_path / "o.jsonl"
    # A template that writes BOS itself (as Mistral's and Llama 3's do): the ids must hold it once.
    template = tmp_path / "bos.jinja"
    template.write_text("{{ bos_token }}" + (demo_dir / "aligned" / "chat_template.jinja").read_text())
    model = demo_dir / "aligned"
    rc = main(["generate", "--model", str(model), "--prompts", str(prompts), "--out", str(out),
               "--backend", "vllm", "--chat-template", str(template), "--stop-token-ids", "92542", "3",
               "--tensor-parallel-size", "2", "--batch-size", "2", "--trust-remote-code"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err

    (llm_kwargs,) = calls(fake_vllm, "LLM")
    assert llm_kwargs == {
        "model": str(model),
        "tokenizer": str(model),
        "dtype": "bfloat16",
        "seed": 42,
        "tensor_parallel_size": 2,
        "trust_remote_code": True,
        "generation_config": "vllm",
    }
    (params,) = calls(fake_vllm, "SamplingParams")
    assert (params.n, params.temperature, params.top_k, params.top_p) == (1, 0.7, 50, 0.9)
    assert (params.presence_penalty, params.frequency_penalty, params.seed) == (0.1, 0.1, 42)
    assert params.max_tokens == 2048 and params.stop_token_ids == [92542, 3]

    tokenizer = AutoTokenizer.from_pretrained(model)
    tokenizer.chat_template = template.read_text()
    generate_calls = calls(fake_vllm, "generate")
    assert [len(c["prompts"]) for c in generate_calls] == [2, 1]  # batches of 2
    sent = [p["prompt_token_ids"] for c in generate_calls for p in c["prompts"]]
    bos = tokenizer.bos_token_id
    for ids, text in zip(sent, texts, strict=True):
        expected = tokenizer.apply_chat_template(
            [{"role": "user", "content": text}], add_generation_prompt=True, tokenize=True, return_dict=False
        )
        assert ids == expected == chat_prompt_ids(tokenizer, text)
        assert ids[0] == bos and ids[1] != bos, "exactly one leading BOS"
        assert all(c["sampling_params"] is params for c in generate_calls)

    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row, ids, text in zip(rows, sent, texts, strict=True):
        reply = fake_vllm.fake_completion(ids, params)
        assert row == {"prompt": text, "output": reply.text, "length": len(reply.token_ids),
                       "finish_reason": reply.finish_reason}  # fmt: skip


def test_vllm_default_tensor_parallel_is_visible_gpus(fake_vllm, demo_dir, tmp_path, capsys, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    prompts = tmp_path / "p.json"
    prompts.write_text(json.dumps([{"instruction": "Hi.", "dataset": "d"}]))
    out = tmp_path / "o.json"
    rc = main(["generate", "--model", str(demo_dir / "aligned"), "--prompts", str(prompts), "--out", str(out),
               "--backend", "vllm", "--max-new-tokens", "5", "--seed", "3"])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    (llm_kwargs,) = calls(fake_vllm, "LLM")
    assert llm_kwargs["tensor_parallel_size"] == 4 and llm_kwargs["seed"] == 3
    assert llm_kwargs["trust_remote_code"] is False
    (params,) = calls(fake_vllm, "SamplingParams")
    assert params.max_tokens == 5 and params.stop_token_ids is None
    assert json.loads(out.read_text())[0]["generator"] == "aligned"


def test_double_bos_template_is_reduced_to_one(demo_dir):
    tokenizer = AutoTokenizer.from_pretrained(demo_dir / "aligned")
    tokenizer.chat_template = "{{ bos_token }}{{ bos_token }}" + tokenizer.chat_template
    ids = chat_prompt_ids(tokenizer, "hello")
    assert ids[0] == tokenizer.bos_token_id and ids[1] != tokenizer.bos_token_id
