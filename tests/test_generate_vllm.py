"""expo generate --backend vllm with the real vLLM (the CPU build, envs/generate_cpu.yaml) on the demo model.

Three engine starts in all (each ~1.5 min on an idle 2-core machine), in one module fixture:

1. a direct vLLM call (tests/helpers/vllm_direct.py: ``LLM(...)``, ``TokensPrompt(ids)``, ``SamplingParams``
   with the paper's settings) on chat-templated ids computed here with transformers;
2. ``expo generate --backend vllm`` with the same settings, killed (SIGKILL, whole process group) once its
   first batch is on disk;
3. the same command again, which resumes.

The tests then check: expo's text equals the direct call's token for token (the settings, ids and stop ids
reached vLLM); exactly one BOS went in; stop ids cut generation; the same seed gives the same text across
batch sizes (expo batches of 4, the direct call all at once and one by one) and across runs (three engine
processes); a resumed run redoes only the missing batches; the CPU engine got a KV cache size from expo.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from expo.cli import main
from expo.envs import vllm_cpu
from expo.generation.outputs import sidecar_path
from expo.generation.sampling import SamplingSettings
from expo.generation.templating import chat_prompt_ids
from expo.generation.vllm_backend import llm_kwargs, sampling_kwargs, visible_gpu_count
from helpers.vllm_env import engine_env, vllm_cpu_python

HELPERS = Path(__file__).parent / "helpers"
MAX_TOKENS = 48
BATCH = 4
ENGINE_TIMEOUT = 900


def _run_direct(python: Path, request: dict, work: Path) -> dict:
    (work / "request.json").write_text(json.dumps(request))
    env = engine_env(VLLM_CPU_KVCACHE_SPACE="1")
    proc = subprocess.run(
        [str(python), str(HELPERS / "vllm_direct.py"), str(work / "request.json"), str(work / "direct.json")],
        env=env, capture_output=True, text=True, timeout=ENGINE_TIMEOUT,
    )  # fmt: skip
    (work / "direct.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    return json.loads((work / "direct.json").read_text())


def _records(path: Path) -> int:
    if not path.is_file():
        return 0
    lines = path.read_text(encoding="utf-8").split("\n")
    return max(sum(1 for line in lines[:-1] if line.strip()) - 1, 0)  # complete lines after the header


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def engine_runs(demo_dir, tmp_path_factory):
    python = vllm_cpu_python()
    work = tmp_path_factory.mktemp("vllm")
    model = demo_dir / "aligned"
    tokenizer = AutoTokenizer.from_pretrained(model)
    # A template that writes BOS itself (as Mistral's and Llama 3's do): the ids must still hold it once.
    template = work / "bos.jinja"
    template.write_text("{{ bos_token }}" + tokenizer.chat_template)
    tokenizer.chat_template = template.read_text()
    prompts = [json.loads(line)["prompt"] for line in (demo_dir / "prompts_ultrafeedback.jsonl").open()]
    chats = [[{"role": "user", "content": p}] for p in prompts]
    ids = [
        tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=True, return_dict=False)
        for c in chats
    ]
    texts = [tokenizer.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in chats]
    stop = tokenizer.convert_tokens_to_ids(".")
    assert stop != tokenizer.unk_token_id

    timings = {}
    start = time.monotonic()
    direct = _run_direct(
        python,
        {"model": str(model), "prompt_ids": ids, "text_prompts": texts[:2], "max_tokens": MAX_TOKENS,
         "stop_token_ids": [stop]},
        work,
    )  # fmt: skip
    timings["direct process"] = time.monotonic() - start

    prompts_file = work / "prompts.jsonl"
    prompts_file.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    out = work / "out.jsonl"
    cmd = [str(python), "-m", "expo", "generate", "--backend", "vllm", "--model", str(model),
           "--prompts", str(prompts_file), "--out", str(out), "--chat-template", str(template),
           "--max-new-tokens", str(MAX_TOKENS), "--stop-token-ids", str(stop), "--batch-size", str(BATCH)]  # fmt: skip

    # Run 1: killed with its whole process group once the first batch is on disk.
    start = time.monotonic()
    with open(work / "killed.log", "w") as log:
        proc = subprocess.Popen(
            cmd, env=engine_env(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        partial = sidecar_path(out)
        while proc.poll() is None and _records(partial) == 0 and time.monotonic() - start < ENGINE_TIMEOUT:
            time.sleep(0.01)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 30
    while _group_alive(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    timings["killed run"] = time.monotonic() - start
    killed = {
        "returncode": proc.returncode,
        "records": _records(partial),
        "out_exists": out.exists(),
        "group_alive": _group_alive(proc.pid),
        "log": (work / "killed.log").read_text(),
    }

    # Run 2: resumes.
    start = time.monotonic()
    resumed = subprocess.run(cmd, env=engine_env(), capture_output=True, text=True, timeout=ENGINE_TIMEOUT)
    timings["resumed run"] = time.monotonic() - start
    assert resumed.returncode == 0, (resumed.stdout + resumed.stderr)[-4000:]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    print(f"vllm engine runs: {timings}, direct call {direct['seconds']}, load {os.getloadavg()}")
    return {
        "ids": ids, "prompts": prompts, "stop": stop, "bos": tokenizer.bos_token_id, "direct": direct,
        "killed": killed, "resumed": resumed.stdout + resumed.stderr, "rows": rows, "out": out,
    }  # fmt: skip


def test_expo_generate_equals_a_direct_vllm_call(engine_runs):
    """Same token ids and SamplingParams -> the same text, length and finish reason, for every prompt."""
    ref = engine_runs["direct"]["reference"]
    rows = engine_runs["rows"]
    assert [r["prompt"] for r in rows] == engine_runs["prompts"]
    for row, want in zip(rows, ref, strict=True):
        assert (row["output"], row["length"], row["finish_reason"]) == (
            want["text"], len(want["token_ids"]), want["finish_reason"],
        )  # fmt: skip
    # The comparison can fail: another seed changes the text.
    assert [o["text"] for o in engine_runs["direct"]["seed43"]] != [o["text"] for o in ref]
    assert "vllm (cpu build)" in engine_runs["resumed"]


def test_one_bos_goes_in_and_vllm_adds_none_to_token_prompts(engine_runs):
    bos = engine_runs["bos"]
    for sent, out in zip(engine_runs["ids"], engine_runs["direct"]["reference"], strict=True):
        assert sent[0] == bos and sent[1] != bos
        assert out["prompt_token_ids"] == sent
    # The trap TokensPrompt avoids: the same templated text as a string prompt gets a second BOS.
    for text_out in engine_runs["direct"]["text"]:
        assert text_out["prompt_token_ids"][:2] == [bos, bos]


def test_stop_ids_cut_generation(engine_runs):
    stop = engine_runs["stop"]
    direct = engine_runs["direct"]
    cut = 0
    for with_stop, without in zip(direct["reference"], direct["no_stop"], strict=True):
        if stop in without["token_ids"][:-1]:
            at = without["token_ids"].index(stop)
            assert with_stop["token_ids"] == without["token_ids"][: at + 1]
            assert with_stop["finish_reason"] == "stop"
            cut += 1
        else:
            assert stop not in with_stop["token_ids"][:-1]
    assert cut >= 3, "the stop id should have ended several answers early"
    assert sum(r["finish_reason"] == "stop" for r in engine_runs["rows"]) >= cut


def test_same_seed_same_text_across_batch_sizes_and_runs(engine_runs):
    direct = engine_runs["direct"]
    assert direct["one_by_one"] == direct["reference"]  # batch of 1 vs all prompts in one call
    # expo ran batches of 4 in two other processes (killed run's batch 1, resumed run's rest): equal above
    assert [r["output"] for r in engine_runs["rows"]] == [o["text"] for o in direct["reference"]]


def test_killed_run_resumes_with_only_the_missing_batches(engine_runs):
    killed = engine_runs["killed"]
    n = len(engine_runs["prompts"])
    assert killed["returncode"] == -signal.SIGKILL, killed["log"][-2000:]
    assert 0 < killed["records"] < n and not killed["out_exists"]
    assert not killed["group_alive"], "an engine process survived the kill of its process group"
    done_batches = killed["records"] // BATCH
    n_batches = -(-n // BATCH)
    assert re.search(
        rf"{n_batches} batches of {BATCH}, {n_batches - done_batches} to do", engine_runs["resumed"]
    )
    assert not sidecar_path(engine_runs["out"]).exists()


def test_cpu_engine_gets_a_kv_cache_size_and_the_head_size_list_is_vllms(engine_runs):
    assert re.search(r"VLLM_CPU_KVCACHE_SPACE=\d+ GiB", engine_runs["resumed"])
    assert engine_runs["direct"]["cpu_head_sizes"] == list(vllm_cpu.CPU_HEAD_SIZES)
    assert engine_runs["direct"]["vllm_version"].startswith("0.32.0")


def test_head_dim_vllm_cpu_rejects_is_one_line_before_any_engine(demo_dir, tmp_path):
    python = vllm_cpu_python()
    model = tmp_path / "h16"
    model.mkdir()
    config = json.loads((demo_dir / "aligned" / "config.json").read_text())
    config.update(num_attention_heads=4, num_key_value_heads=4, head_dim=16)
    (model / "config.json").write_text(json.dumps(config))
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "Hi"}\n')
    start = time.monotonic()
    proc = subprocess.run(
        [str(python), "-m", "expo", "generate", "--backend", "vllm", "--model", str(model), "--prompts",
         str(prompts), "--out", str(tmp_path / "o.jsonl")],
        env=engine_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert "head_dim 16" in lines[0] and "CPU attention" in lines[0] and str(model) in lines[0]
    assert not (tmp_path / "o.jsonl").exists() and not sidecar_path(tmp_path / "o.jsonl").exists()
    assert time.monotonic() - start < 60, "the check must come before an engine starts"


def test_head_dim_rules(tmp_path):
    def write(**cfg):
        (tmp_path / "config.json").write_text(json.dumps(cfg))
        return tmp_path

    assert vllm_cpu.model_head_dim(write(hidden_size=64, num_attention_heads=2))[0] == 32
    assert vllm_cpu.model_head_dim(write(hidden_size=64, num_attention_heads=2, head_dim=128))[0] == 128
    assert (
        vllm_cpu.model_head_dim(write(text_config={"hidden_size": 4096, "num_attention_heads": 32}))[0] == 128
    )
    vllm_cpu.check_cpu_head_dim(write(hidden_size=64, num_attention_heads=2))
    from expo.errors import ExpoError

    with pytest.raises(ExpoError, match=r"head_dim 16 \(hidden_size 64 / 4 attention heads\)"):
        vllm_cpu.check_cpu_head_dim(write(hidden_size=64, num_attention_heads=4))


def test_demo_models_run_on_vllms_cpu_attention(demo_dir):
    for name in ("sft", "aligned", "reward"):
        head_dim, _ = vllm_cpu.model_head_dim(demo_dir / name)
        assert head_dim in vllm_cpu.CPU_HEAD_SIZES, name


def test_llm_and_sampling_kwargs_carry_the_settings():
    settings = SamplingSettings(seed=3, max_new_tokens=5, stop_token_ids=(92542, 3))
    assert llm_kwargs("/m", settings, 2, True) == {
        "model": "/m", "tokenizer": "/m", "dtype": "bfloat16", "seed": 3, "tensor_parallel_size": 2,
        "trust_remote_code": True, "generation_config": "vllm",
    }  # fmt: skip
    assert sampling_kwargs(settings) == {
        "n": 1, "temperature": 0.7, "top_k": 50, "top_p": 0.9, "presence_penalty": 0.1,
        "frequency_penalty": 0.1, "seed": 3, "max_tokens": 5, "stop_token_ids": [92542, 3],
    }  # fmt: skip
    assert sampling_kwargs(SamplingSettings())["stop_token_ids"] is None


def test_default_tensor_parallel_is_visible_gpus(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert visible_gpu_count() == 4
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert visible_gpu_count() == 1


def test_kv_cache_size_follows_free_memory(monkeypatch):
    assert [vllm_cpu.kvcache_gib(g) for g in (2, 9, 16, 24, 200)] == [1, 1, 2, 3, 4]
    monkeypatch.setattr(vllm_cpu, "installed_build", lambda: "cpu")
    assert vllm_cpu.engine_environ({"VLLM_CPU_KVCACHE_SPACE": "7"})["VLLM_CPU_KVCACHE_SPACE"] == "7"
    assert int(vllm_cpu.engine_environ({})["VLLM_CPU_KVCACHE_SPACE"]) >= 1
    monkeypatch.setattr(vllm_cpu, "installed_build", lambda: "gpu")
    assert "VLLM_CPU_KVCACHE_SPACE" not in vllm_cpu.engine_environ({})


def test_double_bos_template_is_reduced_to_one(demo_dir):
    tokenizer = AutoTokenizer.from_pretrained(demo_dir / "aligned")
    tokenizer.chat_template = "{{ bos_token }}{{ bos_token }}" + tokenizer.chat_template
    ids = chat_prompt_ids(tokenizer, "hello")
    assert ids[0] == tokenizer.bos_token_id and ids[1] != tokenizer.bos_token_id


def test_vllm_backend_in_this_python_names_the_cpu_env(demo_dir, tmp_path, capsys, monkeypatch):
    """Where vllm is not importable (the core venv), the error says how to get the CPU build."""
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "vllm" else real(n, *a))
    prompts = tmp_path / "p.jsonl"
    prompts.write_text('{"prompt": "Hi"}\n')
    rc = main(["generate", "--model", str(demo_dir / "aligned"), "--prompts", str(prompts),
               "--out", str(tmp_path / "o.jsonl"), "--backend", "vllm"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "expo run-isolated generate" in err[0]
