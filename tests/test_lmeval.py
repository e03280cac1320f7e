"""`expo lmeval`: suites, lm-eval command lines, per-task result files, and a real run on the tiny demo model."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from expo.benchmarks.lmeval import runner
from expo.benchmarks.lmeval.runner import LmevalRequest, build_command, task_result
from expo.benchmarks.lmeval.suites import plan, suite_tasks
from expo.cli import main
from expo.errors import ExpoError
from expo.tables.lmeval_results import read_model_results


def one_error_line(argv, capsys, harness_ran: bool = False) -> str:
    """The one error line; when lm-eval never ran, stderr holds nothing else."""
    assert main(argv) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.strip()]
    if harness_ran:  # lm-eval's console output is echoed to the log before our line
        err = [x for x in err if x.startswith("expo ")]
    assert len(err) == 1, err
    assert err[0].startswith("expo lmeval: error: ")
    return err[0]


def fake_model(tmp_path: Path) -> Path:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    return model


def test_v1_runs_one_invocation_per_shot_count(tmp_path):
    req = LmevalRequest(
        model=str(fake_model(tmp_path)), out=str(tmp_path / "out"), suite="v1", backend="vllm"
    )
    invs = plan("v1")
    shots = {t: inv.num_fewshot for inv in invs for t in inv.tasks}
    assert shots == {
        "arc_challenge": 25,
        "hellaswag": 10,
        "mmlu": 5,
        "truthfulqa_mc2": 0,
        "winogrande": 5,
        "gsm8k": 5,
    }
    assert len({inv.num_fewshot for inv in invs}) == len(invs)  # one lm-eval run per shot count
    for inv in invs:
        cmd = build_command(req, inv, tmp_path / "o", None)
        margs = cmd[cmd.index("--model_args") + 1]
        assert cmd[:3] == ["run", "--model", "vllm"]
        assert margs.startswith(f"pretrained={Path(req.model).resolve()},dtype=bfloat16")
        assert "device" not in margs and "batch_size" not in margs
        assert cmd[cmd.index("--num_fewshot") + 1] == str(inv.num_fewshot)
        assert cmd[cmd.index("--batch_size") + 1] == "auto"
        assert "--apply_chat_template" not in cmd and "--device" not in cmd


def test_v2_uses_chat_template_and_task_shots(tmp_path):
    req = LmevalRequest(
        model=str(fake_model(tmp_path)),
        out=str(tmp_path),
        suite="v2",
        backend="hf",
        device="cuda:0",
        batch_size="8",
    )
    (inv,) = plan("v2")
    cmd = build_command(req, inv, tmp_path / "o", None)
    assert cmd[cmd.index("--tasks") + 1] == "leaderboard"
    assert "--apply_chat_template" in cmd and cmd[cmd.index("--fewshot_as_multiturn") + 1] == "true"
    assert "--num_fewshot" not in cmd
    assert cmd[cmd.index("--device") + 1] == "cuda:0" and cmd[cmd.index("--batch_size") + 1] == "8"
    assert suite_tasks("v2") == ["leaderboard"]


def test_task_filter_and_bad_requests(tmp_path):
    assert [(i.name, i.tasks) for i in plan("v1", ["gsm8k", "arc_challenge"])] == [
        ("v1_25shot", ("arc_challenge",)),
        ("v1_5shot", ("gsm8k",)),
    ]
    with pytest.raises(ExpoError, match="not in suite 'v1'"):
        plan("v1", ["leaderboard"])
    model = fake_model(tmp_path)
    with pytest.raises(ExpoError, match="'device' must not be in model_args"):
        runner.check_request(LmevalRequest(model=str(model), out=str(tmp_path), model_args="device=cpu"))


def test_group_results_keep_all_subtasks(tmp_path):
    data = {
        "results": {
            "mmlu": {"acc,none": 0.5},
            "mmlu_stem": {"acc,none": 0.4},
            "mmlu_algebra": {"acc,none": 0.3},
            "mmlu_law": {"acc,none": 0.6},
            "gsm8k": {"exact_match,strict-match": 0.1},
        },
        "group_subtasks": {"mmlu": ["mmlu_stem", "mmlu_law"], "mmlu_stem": ["mmlu_algebra"], "gsm8k": []},
        "n-shot": {"mmlu_algebra": 5, "mmlu_law": 5, "gsm8k": 5},
        "config": {"model": "vllm"},
        "lm_eval_version": "0.4.13",
    }
    f = tmp_path / "results_x.json"
    f.write_text(json.dumps(data))
    mmlu = task_result(f, "mmlu", {"suite": "v1"})
    assert set(mmlu["results"]) == {"mmlu", "mmlu_stem", "mmlu_algebra", "mmlu_law"}
    assert mmlu["n-shot"] == {"mmlu_algebra": 5, "mmlu_law": 5} and mmlu["config"] == {"model": "vllm"}
    assert set(task_result(f, "gsm8k", {})["results"]) == {"gsm8k"}
    with pytest.raises(ExpoError, match="no results for task hellaswag"):
        task_result(f, "hellaswag", {})


def test_failed_harness_leaves_no_output(tmp_path, monkeypatch, capsys):
    model = fake_model(tmp_path)
    script = tmp_path / "fake_lm_eval.py"
    script.write_text(
        "import sys\nprint('loading...')\nprint('RuntimeError: CUDA out of memory')\nsys.exit(1)\n"
    )
    monkeypatch.setattr(runner, "LM_EVAL_CMD", [sys.executable, str(script)])
    out = tmp_path / "results_lmeval" / "m"
    msg = one_error_line(
        [
            "lmeval",
            "--model",
            str(model),
            "--out",
            str(out),
            "--suite",
            "local",
            "--backend",
            "hf",
            "--device",
            "cpu",
        ],
        capsys,
        harness_ran=True,
    )
    assert "lm-eval local failed (exit 1)" in msg and "CUDA out of memory" in msg
    assert not (out / "raw" / "local").exists() and not list(out.glob("*.json"))


def test_error_lines(tmp_path, capsys):
    msg = one_error_line(
        ["lmeval", "--model", str(tmp_path / "nope"), "--out", str(tmp_path / "o"), "--suite", "local"],
        capsys,
    )
    assert "nope: model directory not found" in msg
    msg = one_error_line(
        ["lmeval", "--model", str(fake_model(tmp_path)), "--out", str(tmp_path / "o"), "--suite", "v3"],
        capsys,
    )
    assert "unknown lm-eval suite 'v3'" in msg
    assert not (tmp_path / "o").exists()


def tiny_mc_reference(model_dir: Path) -> dict:
    """acc / acc_norm of the packaged expo_tiny_mc task by plain transformers, without lm-eval: the context
    "Question: {q}\nAnswer:" and the continuation " {choice}" tokenized as one string (the tokenizer's own
    BOS), the continuation's summed log-probability per choice; acc_norm divides it by the choice's length in
    characters; stderr = sample standard deviation / sqrt(n)."""
    import statistics

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import expo

    task = Path(expo.__file__).parent / "resources" / "lmeval_tasks" / "expo_tiny_mc.jsonl"
    docs = [json.loads(line) for line in task.read_text().splitlines() if line.strip()]
    tok = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype="auto").eval()
    acc, acc_norm = [], []
    for doc in docs:
        context = f"Question: {doc['question']}\nAnswer:"
        n_ctx = len(tok(context)["input_ids"])
        lls = []
        for choice in doc["choices"]:
            ids = tok(context + " " + choice)["input_ids"]
            with torch.inference_mode():
                logprobs = torch.log_softmax(model(torch.tensor([ids])).logits[0].float(), dim=-1)
            lls.append(sum(logprobs[i - 1, ids[i]].item() for i in range(n_ctx, len(ids))))
        acc.append(float(max(range(len(lls)), key=lambda i: lls[i]) == doc["label"]))
        normed = [ll / len(c) for ll, c in zip(lls, doc["choices"], strict=True)]
        acc_norm.append(float(max(range(len(normed)), key=lambda i: normed[i]) == doc["label"]))
    n = len(docs)
    return {
        "n": n,
        "acc": statistics.fmean(acc),
        "acc_stderr": statistics.stdev(acc) / n**0.5,
        "acc_norm": statistics.fmean(acc_norm),
        "acc_norm_stderr": statistics.stdev(acc_norm) / n**0.5,
    }


@pytest.mark.slow
def test_local_suite_on_demo_model(demo_dir, tmp_path, monkeypatch):
    out = tmp_path / "results_lmeval" / "demo_alpha0.0"
    argv = [
        "lmeval",
        "--model",
        str(demo_dir / "aligned"),
        "--out",
        str(out),
        "--suite",
        "local",
        "--backend",
        "hf",
        "--device",
        "cpu",
        "--batch-size",
        "8",
    ]
    assert main(argv) == 0
    data = json.loads((out / "expo_tiny_mc.json").read_text())
    metrics = data["results"]["expo_tiny_mc"]
    ref = tiny_mc_reference(demo_dir / "aligned")
    assert metrics["sample_len"] == ref["n"] == 20
    assert metrics["acc,none"] == pytest.approx(ref["acc"], abs=1e-12)
    assert metrics["acc_norm,none"] == pytest.approx(ref["acc_norm"], abs=1e-12)
    assert metrics["acc_stderr,none"] == pytest.approx(ref["acc_stderr"], rel=1e-9)
    assert metrics["acc_norm_stderr,none"] == pytest.approx(ref["acc_norm_stderr"], rel=1e-9)
    assert data["config"]["model"] == "hf" and data["expo"]["suite"] == "local"
    raw = out / data["expo"]["raw_results"]
    assert raw.is_file() and raw.parent.parent.parent == out / "raw" / "local"
    assert "Running loglikelihood requests" in (out / "raw" / "local" / "lm_eval.log").read_text()
    # the tables reader understands the file
    res = read_model_results("demo_alpha0.0", out)
    assert res.metric("expo_tiny_mc", "acc,none") == metrics["acc,none"]
    # a rerun reuses the finished invocation instead of running lm-eval again
    monkeypatch.setattr(runner, "LM_EVAL_CMD", [sys.executable, "-c", "import sys; sys.exit(9)"])
    (out / "expo_tiny_mc.json").unlink()
    assert main(argv) == 0
    assert json.loads((out / "expo_tiny_mc.json").read_text())["results"] == data["results"]
