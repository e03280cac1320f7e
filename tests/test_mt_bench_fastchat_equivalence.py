"""Our MT-Bench judging equals FastChat 0.2.36's: prompts, requests, score parse, records, match order, scores.

Live (the ``live_*`` tests): the real ``fschat==0.2.36`` with ``openai==0.28.1`` runs in its own isolated env
(tests/envs/fastchat_oracle.yaml, built once by ``expo.envs.ensure_env``) through
tests/fastchat_oracle/fastchat_judge.py: FastChat's own ``make_match_single`` / ``play_a_match_single`` judge
both shared MT-Bench answer files (320 matches) against a loopback recorder serving scripted judge replies, and
``show_result`` scores its judgment file. Our ``judge_answers`` judges the same files against the same recorder;
requests, records and scores are compared field by field. Without the env (offline, no uv) these tests skip
with the reason, and fail when EXPO_REQUIRE_SHARED=1.

Stored: tests/data/mt_bench_fastchat_golden.json holds outputs of the same FastChat functions (see its
"comment" and make_mt_bench_fastchat_golden.py), for machines where the env cannot be built.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from expo.benchmarks.mt_bench.data import (
    NEED_REF_CATS,
    SINGLE_PROMPTS,
    TEMPERATURE_CONFIG,
    AnswerFile,
    load_answers,
    load_judge_prompts,
    load_questions,
    needs_reference,
)
from expo.benchmarks.mt_bench.judging import (
    Match,
    judge_messages,
    judge_request,
    make_matches,
    make_record,
    match_user_prompt,
    parse_score,
)

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = json.loads((Path(__file__).parent / "data" / "mt_bench_fastchat_golden.json").read_text())


@pytest.fixture(scope="module")
def mt(shared_data):
    base = shared_data / "mt_bench"
    questions = load_questions(base / "question.jsonl")
    return {
        "questions": {q["question_id"]: q for q in questions},
        "question_list": questions,
        "prompts": load_judge_prompts(base / "judge_prompts.jsonl"),
        "refs": load_answers(base / "reference_answer" / "gpt-4.jsonl"),
        "answers": {p.stem: load_answers(p) for p in sorted((base / "model_answer").glob("*.jsonl"))},
    }


def test_constants_equal_fastchat():
    assert list(NEED_REF_CATS) == GOLDEN["need_ref_cats"]
    assert TEMPERATURE_CONFIG == GOLDEN["temperature_config"]


@pytest.mark.parametrize("case", GOLDEN["prompt_cases"], ids=lambda c: f"q{c['question_id']}-t{c['turn']}")
def test_prompt_request_and_record_equal_fastchat(mt, case):
    q = mt["questions"][case["question_id"]]
    kind = "math" if needs_reference(q["category"]) else "default"
    prompt = mt["prompts"][SINGLE_PROMPTS[(kind, case["turn"])]]
    ref = mt["refs"][q["question_id"]] if kind == "math" else None
    match = Match(q, case["model"], mt["answers"][case["model"]][q["question_id"]], prompt, ref, case["turn"])

    user_prompt = match_user_prompt(match)
    golden = case["record"]
    assert user_prompt == golden["user_prompt"]
    assert judge_request("gpt-4", judge_messages(prompt, user_prompt)) == case["request"]

    record = make_record(match, "gpt-4", user_prompt, case["judge_reply"])
    assert isinstance(record["tstamp"], float)
    assert {k: v for k, v in record.items() if k != "tstamp"} == {
        k: v for k, v in golden.items() if k != "tstamp"
    }
    assert type(record["score"]) is type(golden["score"])
    assert list(record) == list(golden)  # same key order as FastChat writes


@pytest.mark.parametrize("case", GOLDEN["score_cases"], ids=lambda c: repr(c["judgment"]))
def test_score_parse_equals_fastchat(case):
    score = parse_score(case["judgment"])
    assert score == case["score"]
    assert type(score) is type(case["score"])


def test_unreadable_number_counts_as_failed():
    # FastChat's ast.literal_eval raises on "07"; we count it as an unparsed judgment.
    assert parse_score("Rating: [[07]]") == -1


def test_match_order_and_prompts_follow_gen_judgment(mt):
    answer_files = [AnswerFile(Path(f"{m}.jsonl"), m, a) for m, a in sorted(mt["answers"].items())]
    matches = make_matches(mt["question_list"], answer_files, mt["prompts"], mt["refs"])
    assert len(matches) == 2 * 80 * 2
    names = [m.prompt["name"] for m in matches]
    # gen_judgment: default turn 1, math turn 1, default turn 2, math turn 2; models inside each question
    assert names == (
        ["single-v1"] * 100
        + ["single-math-v1"] * 60
        + ["single-v1-multi-turn"] * 100
        + ["single-math-v1-multi-turn"] * 60
    )
    assert [m.model for m in matches[:4]] == ["zephyr-7b-beta", "zephyr-7b-beta-ExPO"] * 2
    assert all((m.reference is not None) == needs_reference(m.question["category"]) for m in matches)
    assert {m.turn for m in matches[:160]} == {1} and {m.turn for m in matches[160:]} == {2}


def test_scores_equal_fastchat_show_result():
    from expo.benchmarks.mt_bench import mt_bench_scores

    golden = GOLDEN["show_result"]
    ours = mt_bench_scores(golden["records"]).set_index("model")
    for model, expected in golden["scores"].items():
        for column in ("turn1", "turn2", "score"):
            assert ours.loc[model, column] == pytest.approx(expected[column]), (model, column)
    assert ours.loc["a", "n_failed"] == 2


# ---------------------------------------------------------------------------------------------------------
# Live: FastChat 0.2.36 itself, in its own env, against the same scripted judge as ours.

MODELS = ["zephyr-7b-beta", "zephyr-7b-beta-ExPO"]  # gen_judgment --model-list order
# Scripted judge replies, picked by a hash of the request's user message (same request -> same reply on both
# sides): plain ratings, decimals, single brackets, spaces, several matches, no rating, API-failure text.
# "[[07]]" is left out: FastChat's ast.literal_eval raises on it (see test_unreadable_number_counts_as_failed).
REPLIES = [
    "The answer is engaging. Rating: [[8]]",
    "Rating: [[6.5]]",
    "Compared with the reference, wrong. Rating: [[2]]",
    "Rating: [3]",
    "[[10]]",
    "no rating given",
    "$ERROR$",
    "[[ 8 ]]",
    "[[3]] then [[9]]",
    "[5] and later [[8]]",
    "Rating: [[7.]]",
    "[[0]]",
    "[[10.0]]",
    "rating [[4]], I mean [7]",
    "[[8/10]]",
    "Score: [[ 5]]",
    "[3.25]",
]


def scripted_reply(body: dict) -> str:
    digest = hashlib.sha256(body["messages"][-1]["content"].encode("utf-8")).digest()
    return REPLIES[int.from_bytes(digest[:4], "big") % len(REPLIES)]


class Recorder:
    """Loopback OpenAI-compatible judge: lists ``gpt-4``, answers chat completions with scripted replies,
    and records every request body in arrival order."""

    def __init__(self):
        self.requests: list[dict] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, payload: dict) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._send({"object": "list", "data": [{"id": "gpt-4", "object": "model"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                recorder.requests.append({"path": self.path, "body": body})
                reply = scripted_reply(body)
                self._send(
                    {
                        "id": f"chatcmpl-{len(recorder.requests)}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    }
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _skip_or_fail(reason: str):
    if os.environ.get("EXPO_REQUIRE_SHARED") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def fastchat_python() -> Path:
    """The Python of the isolated FastChat 0.2.36 env (built on first use, then reused)."""
    from expo.envs import ensure_env
    from expo.errors import ExpoError

    root = Path(os.environ.get("EXPO_ENVS_ROOT") or ROOT / ".expo-envs")
    start = time.monotonic()
    try:
        python = ensure_env(
            "fastchat_oracle", envs_dir=ROOT / "tests" / "envs", root=root, force_isolated=True
        )
    except ExpoError as exc:
        _skip_or_fail(f"FastChat 0.2.36 oracle env could not be built: {exc}")
    print(f"fastchat oracle env ready in {time.monotonic() - start:.1f} s (load {os.getloadavg()[0]:.2f})")
    return python


@pytest.fixture(scope="module")
def live(fastchat_python, shared_data, tmp_path_factory):
    """FastChat's judgments and ours of both shared answer files, against one scripted recorder each."""
    from expo.benchmarks.mt_bench.requests import JudgeRequest, MtBenchJudge
    from expo.benchmarks.mt_bench.run_judge import run as judge_answers
    from expo.envs import isolated_environ

    data = shared_data / "mt_bench"
    work = tmp_path_factory.mktemp("fastchat_live")
    theirs, ours = Recorder(), Recorder()
    try:
        env = isolated_environ(fastchat_python)
        env.update(
            OPENAI_API_BASE=theirs.url,
            OPENAI_API_KEY="sk-test-not-a-key",
            NO_PROXY="127.0.0.1,localhost",
            no_proxy="127.0.0.1,localhost",
        )
        env.pop("PYTHONPATH", None)  # nothing of ours inside FastChat's run
        script = ROOT / "tests" / "fastchat_oracle" / "fastchat_judge.py"
        start = time.monotonic()
        proc = subprocess.run(
            [str(fastchat_python), str(script), str(data), str(work), *MODELS],
            env=env,
            cwd=work,
            capture_output=True,
            text=True,
            timeout=900,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        print(f"fastchat judged in {time.monotonic() - start:.1f} s (load {os.getloadavg()[0]:.2f})")
        os.environ["EXPO_TEST_ORACLE_KEY"] = "sk-test-not-a-key"
        judge = MtBenchJudge(
            judge_model="gpt-4",
            base_url=ours.url,
            api_key_env="EXPO_TEST_ORACLE_KEY",
            concurrency=1,
            max_retries=1,
        )
        records = judge_answers(
            JudgeRequest(
                answers=[str(data / "model_answer" / f"{m}.jsonl") for m in MODELS],
                questions=str(data / "question.jsonl"),
                judge_prompts=str(data / "judge_prompts.jsonl"),
                reference=str(data / "reference_answer" / "gpt-4.jsonl"),
                out=str(work / "ours.jsonl"),
                judge=judge,
                max_failed_fraction=1.0,
            )
        )
    finally:
        theirs.close()
        ours.close()
        os.environ.pop("EXPO_TEST_ORACLE_KEY", None)
    lines = (work / "gpt-4_single.jsonl").read_text(encoding="utf-8").splitlines()
    return {
        "oracle": json.loads((work / "oracle.json").read_text()),
        "fastchat_records": [json.loads(line) for line in lines],
        "fastchat_requests": theirs.requests,
        "our_records": records,
        "our_written": [json.loads(line) for line in (work / "ours.jsonl").read_text().splitlines()],
        "our_requests": ours.requests,
    }


def test_live_oracle_is_fastchat_0_2_36(live):
    assert live["oracle"]["fschat"] == "0.2.36" and live["oracle"]["openai"] == "0.28.1"
    assert "site-packages/fastchat/llm_judge/common.py" in live["oracle"]["common_file"]
    assert list(NEED_REF_CATS) == live["oracle"]["need_ref_cats"]
    assert TEMPERATURE_CONFIG == live["oracle"]["temperature_config"]


def test_live_requests_equal_fastchat(live):
    theirs, ours = live["fastchat_requests"], live["our_requests"]
    assert len(theirs) == live["oracle"]["n_matches"] == 2 * 80 * 2
    assert [r["path"] for r in ours] == [r["path"] for r in theirs]
    for i, (t, o) in enumerate(zip(theirs, ours, strict=True)):
        assert o["body"] == t["body"], f"request {i} differs"
    used = {scripted_reply(r["body"]) for r in theirs}
    assert used == set(REPLIES), f"replies never exercised: {set(REPLIES) - used}"


def test_live_records_equal_fastchat(live):
    theirs = live["fastchat_records"]
    assert len(theirs) == 320
    for name, ours in (("returned", live["our_records"]), ("written", live["our_written"])):
        assert len(ours) == len(theirs), name
        for i, (t, o) in enumerate(zip(theirs, ours, strict=True)):
            assert list(o) == list(t), f"{name} record {i}: key order"
            assert {k: v for k, v in o.items() if k != "tstamp"} == {
                k: v for k, v in t.items() if k != "tstamp"
            }, f"{name} record {i} differs"
            assert type(o["score"]) is type(t["score"]), f"{name} record {i}: score type"
    scores = [r["score"] for r in theirs]
    assert (
        -1 in scores
        and any(isinstance(s, float) for s in scores)
        and any(isinstance(s, int) and s > 0 for s in scores)
    )


def test_live_scores_equal_fastchat_show_result(live):
    from expo.benchmarks.mt_bench import mt_bench_scores

    ours = mt_bench_scores(live["our_records"]).set_index("model")
    for model, expected in live["oracle"]["scores"].items():
        for column in ("turn1", "turn2", "score"):
            assert ours.loc[model, column] == pytest.approx(expected[column]), (model, column)
