"""`expo mt-bench-judge` / `mt-bench-score` against a loopback OpenAI-compatible judge with known scores."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from expo.benchmarks.mt_bench import mt_bench_scores
from expo.benchmarks.mt_bench.run_judge import journal_path
from expo.cli import main

KEY = "sk-test-secret-123"


def base_score(qid: int, turn: int) -> int:
    return (qid % 7) + 2 if turn == 1 else (qid % 5) + 3


class FakeJudge:
    """Serves GET /v1/models and POST /v1/chat/completions on 127.0.0.1; replies 'Rating: [[k]]'.

    k = base_score(question, turn), +1 when the graded answer comes from model "strong". The question is found
    by its first turn's text in the user prompt; turn 2 prompts contain "Conversation with User". Every
    request body and Authorization header is kept. ``mode``: "ok", "garbage" (no rating), "fail_q" (HTTP 500
    for questions in ``fail_ids``), ``delay`` seconds per reply.
    """

    def __init__(
        self, questions: list[dict], mode: str = "ok", fail_ids=(), delay: float = 0.0, served="gpt-4"
    ):
        self.questions = questions
        self.mode, self.fail_ids, self.delay, self.served = mode, set(fail_ids), delay, served
        self.requests: list[dict] = []
        self.auth: set[str] = set()
        self.keys = Counter()
        self.lock = threading.Lock()
        judge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, code, obj):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": judge.served, "object": "model"}]})
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                code, reply = judge.reply(body, self.headers.get("Authorization", ""))
                if code != 200:
                    self._send(code, {"error": {"message": "boom"}})
                    return
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": reply},
                                "finish_reason": "stop",
                            }
                        ],
                    },
                )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def locate(self, user: str) -> tuple[int, int, str]:
        hits = [q for q in self.questions if q["turns"][0] in user]
        q = max(hits, key=lambda q: len(q["turns"][0]))
        turn = 2 if "Conversation with User" in user else 1
        model = "strong" if "answer of strong" in user else "other"
        return q["question_id"], turn, model

    def reply(self, body: dict, auth: str) -> tuple[int, str]:
        qid, turn, model = self.locate(body["messages"][-1]["content"])
        with self.lock:
            self.requests.append(body)
            self.auth.add(auth)
            self.keys[(qid, turn, model)] += 1
        if self.delay:
            time.sleep(self.delay)
        if self.mode == "garbage":
            return 200, "What a lovely answer, I have no number for it."
        if self.mode == "fail_q" and qid in self.fail_ids:
            return 500, ""
        return (
            200,
            f"The answer is fine.\n\nRating: [[{min(10, base_score(qid, turn) + (model == 'strong'))}]]",
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def questions(shared_data):
    return [
        json.loads(line) for line in (shared_data / "mt_bench" / "question.jsonl").read_text().splitlines()
    ]


def write_answers(path: Path, model: str, questions: list[dict], skip=()) -> Path:
    rows = [
        {
            "question_id": q["question_id"],
            "answer_id": f"a{q['question_id']}",
            "model_id": model,
            "choices": [
                {"index": 0, "turns": [f"answer of {model} to {q['question_id']} turn {t}" for t in (1, 2)]}
            ],
            "tstamp": 0.0,
        }
        for q in questions
        if q["question_id"] not in skip
    ]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def judge_argv(shared_data, answers, out, url, *extra):
    mt = shared_data / "mt_bench"
    return [
        "mt-bench-judge",
        "--answers",
        *map(str, answers),
        "--questions",
        str(mt / "question.jsonl"),
        "--judge-prompts",
        str(mt / "judge_prompts.jsonl"),
        "--reference",
        str(mt / "reference_answer" / "gpt-4.jsonl"),
        "--out",
        str(out),
        "--judge-base-url",
        url,
        "--api-key-env",
        "EXPO_TEST_JUDGE_KEY",
        "--max-retries",
        "2",
        "--retry-sleep",
        "0",
        *extra,
    ]


@pytest.fixture
def key_env(monkeypatch):
    monkeypatch.setenv("EXPO_TEST_JUDGE_KEY", KEY)


def expected(questions, model):
    bonus = model == "strong"
    t1 = [min(10, base_score(q["question_id"], 1) + bonus) for q in questions]
    t2 = [min(10, base_score(q["question_id"], 2) + bonus) for q in questions]
    return sum(t1) / len(t1), sum(t2) / len(t2), (sum(t1) + sum(t2)) / (len(t1) + len(t2))


def test_known_scores_turns_and_overall(tmp_path, shared_data, questions, key_env, capsys):
    answers = [
        write_answers(tmp_path / "strong.jsonl", "strong", questions),
        write_answers(tmp_path / "weak.jsonl", "weak", questions),
    ]
    out = tmp_path / "judgment" / "gpt-4_single.jsonl"
    with FakeJudge(questions) as judge:
        assert main(judge_argv(shared_data, answers, out, judge.url, "--concurrency", "4")) == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == len(judge.requests) == 2 * 80 * 2
    assert max(judge.keys.values()) == 1
    assert judge.auth == {f"Bearer {KEY}"}
    for body in judge.requests:
        assert (body["model"], body["n"], body["temperature"], body["max_tokens"]) == ("gpt-4", 1, 0, 2048)
        assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert set(records[0]) == {
        "question_id",
        "model",
        "judge",
        "user_prompt",
        "judgment",
        "score",
        "turn",
        "tstamp",
    }
    assert {tuple(r["judge"]) for r in records} == {
        ("gpt-4", n)
        for n in ("single-v1", "single-math-v1", "single-v1-multi-turn", "single-math-v1-multi-turn")
    }
    scores = mt_bench_scores(records).set_index("model")
    for model in ("strong", "weak"):
        t1, t2, overall = expected(questions, model)
        assert scores.loc[model, "turn1"] == pytest.approx(t1)
        assert scores.loc[model, "turn2"] == pytest.approx(t2)
        assert scores.loc[model, "score"] == pytest.approx(overall)
    assert scores.loc["strong", "score"] > scores.loc["weak", "score"]
    # the key never reaches outputs, journal or logs
    assert KEY not in out.read_text() + journal_path(out).read_text() + "".join(capsys.readouterr())
    # the judge (model and host) is named beside the judgments
    host = judge.url.split("/")[2]
    note = json.loads(out.with_name("gpt-4_single.judge.json").read_text())
    assert note == {"judges": [{"judge_host": host, "judge_model": "gpt-4"}]}

    csv, merged = tmp_path / "scores.csv", tmp_path / "merged.jsonl"
    assert main(["mt-bench-score", "--judgments", str(out), "--out", str(csv), "--merged", str(merged)]) == 0
    lines = csv.read_text().splitlines()
    assert lines[0] == "model,turn1,turn2,score,n_judgments,n_failed"
    assert json.loads((tmp_path / "scores.judge.json").read_text()) == note
    assert json.loads((tmp_path / "merged.judge.json").read_text()) == note
    row = dict(zip(lines[0].split(","), lines[1].split(","), strict=True))
    assert row["model"] == "strong" and float(row["score"]) == pytest.approx(
        expected(questions, "strong")[2], abs=1e-4
    )
    assert len(merged.read_text().splitlines()) == 320


def test_garbage_judge_fails_with_count_and_keeps_judgments(
    tmp_path, shared_data, questions, key_env, capsys
):
    answers = [write_answers(tmp_path / "m.jsonl", "m", questions)]
    out = tmp_path / "j.jsonl"
    with FakeJudge(questions, mode="garbage") as judge:
        assert main(judge_argv(shared_data, answers, out, judge.url)) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("expo ")]
    assert len(err) == 1 and "error: 160 of 160 judgments have no score" in err[0]
    assert not out.exists()
    assert len(journal_path(out).read_text().splitlines()) == 160
    # a permissive budget accepts them without asking again (they are judgments, not API failures)
    with FakeJudge(questions) as judge2:
        assert main(judge_argv(shared_data, answers, out, judge2.url, "--max-failed-fraction", "1.0")) == 0
    assert judge2.requests == []
    assert mt_bench_scores([json.loads(x) for x in out.read_text().splitlines()]).loc[0, "n_failed"] == 160


def test_api_failures_are_counted_then_retried_on_rerun(tmp_path, shared_data, questions, key_env, capsys):
    answers = [write_answers(tmp_path / "m.jsonl", "m", questions)]
    out = tmp_path / "j.jsonl"
    with FakeJudge(questions, mode="fail_q", fail_ids={81, 101}) as judge:
        assert main(judge_argv(shared_data, answers, out, judge.url, "--max-failed-fraction", "0.05")) == 0
    records = [json.loads(x) for x in out.read_text().splitlines()]
    failed = [r for r in records if r["score"] == -1]
    assert sorted((r["question_id"], r["turn"]) for r in failed) == [(81, 1), (81, 2), (101, 1), (101, 2)]
    assert all(r["judgment"] == "$ERROR$" for r in failed)
    assert judge.keys[(81, 1, "other")] == 2  # --max-retries 2
    row = mt_bench_scores(records).iloc[0]
    kept = [q for q in questions if q["question_id"] not in (81, 101)]
    assert row["turn1"] == pytest.approx(expected(kept, "m")[0]) and row["n_failed"] == 4
    with FakeJudge(questions) as judge2:
        assert main(judge_argv(shared_data, answers, out, judge2.url)) == 0
    assert sorted(judge2.keys) == [(81, 1, "other"), (81, 2, "other"), (101, 1, "other"), (101, 2, "other")]
    assert mt_bench_scores([json.loads(x) for x in out.read_text().splitlines()]).loc[0, "n_failed"] == 0


def test_resume_after_kill_requests_nothing_twice(tmp_path, shared_data, questions):
    answers = [write_answers(tmp_path / "m.jsonl", "m", questions)]
    out = tmp_path / "j.jsonl"
    env = {**os.environ, "EXPO_TEST_JUDGE_KEY": KEY, "HF_HUB_OFFLINE": "1"}
    with FakeJudge(questions, delay=0.03) as judge:
        proc = subprocess.Popen(  # one request in flight: at most one is lost to the kill
            [
                sys.executable,
                "-m",
                "expo",
                *judge_argv(shared_data, answers, out, judge.url, "--concurrency", "1"),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        journal = journal_path(out)
        deadline = time.time() + 60
        while time.time() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 20):
            time.sleep(0.05)
        proc.kill()
        proc.wait()
        assert not out.exists()
        # a kill can tear the last line; simulate it
        with open(journal, "a") as fh:
            fh.write('{"question_id": 99, "mod')
        done_before = [json.loads(x) for x in journal.read_text().splitlines()[:-1]]
        assert 20 <= len(done_before) < 160
        judge.delay = 0
        os.environ["EXPO_TEST_JUDGE_KEY"] = KEY
        try:
            assert main(judge_argv(shared_data, answers, out, judge.url)) == 0
        finally:
            del os.environ["EXPO_TEST_JUDGE_KEY"]
    # judgments finished before the kill are never requested again; only the one in flight at the kill can be
    for r in done_before:
        assert judge.keys[(r["question_id"], r["turn"], "other")] == 1
    assert sum(judge.keys.values()) - len(judge.keys) <= 1
    assert len(judge.keys) == 160  # and every judgment was requested
    assert len(out.read_text().splitlines()) == 160


def test_zephyr_answers_give_fastchat_records(tmp_path, shared_data, questions, key_env):
    ma = shared_data / "mt_bench" / "model_answer"
    out = tmp_path / "gpt-4_single.jsonl"
    with FakeJudge(questions) as judge:
        assert (
            main(judge_argv(shared_data, sorted(ma.glob("*.jsonl")), out, judge.url, "--concurrency", "2"))
            == 0
        )
    records = [json.loads(x) for x in out.read_text().splitlines()]
    assert {r["model"] for r in records} == {"zephyr-7b-beta", "zephyr-7b-beta-ExPO"}
    r = next(
        r for r in records if r["question_id"] == 101 and r["turn"] == 2 and r["model"] == "zephyr-7b-beta"
    )
    assert r["judge"] == ["gpt-4", "single-math-v1-multi-turn"]
    assert "<|The Start of Reference Answer|>" in r["user_prompt"] and r["score"] == base_score(101, 2)
    assert list(r) == ["question_id", "model", "judge", "user_prompt", "judgment", "score", "turn", "tstamp"]


def run_err(argv, capsys) -> str:
    assert main(argv) == 2
    err = [x for x in capsys.readouterr().err.splitlines() if x.startswith("expo ")]
    assert len(err) == 1 and err[0].startswith("expo mt-bench-judge: error: "), err
    return err[0]


def test_errors_before_judging(tmp_path, shared_data, questions, monkeypatch, capsys):
    answers = [write_answers(tmp_path / "m.jsonl", "m", questions)]
    out = tmp_path / "j.jsonl"
    monkeypatch.delenv("EXPO_TEST_JUDGE_KEY", raising=False)
    with FakeJudge(questions) as judge:
        assert "EXPO_TEST_JUDGE_KEY" in run_err(judge_argv(shared_data, answers, out, judge.url), capsys)
        monkeypatch.setenv("EXPO_TEST_JUDGE_KEY", KEY)
        gappy = write_answers(tmp_path / "gappy.jsonl", "gappy", questions, skip={123})
        assert "gappy.jsonl: answers lack question 123" in run_err(
            judge_argv(shared_data, [gappy], out, judge.url), capsys
        )
        msg = run_err(judge_argv(shared_data, answers, out, judge.url, "--judge-model", "gpt-5"), capsys)
        assert "does not serve model 'gpt-5'" in msg
        assert judge.requests == []
    msg = run_err(judge_argv(shared_data, answers, out, judge.url), capsys)  # server now closed
    assert "unreachable" in msg and KEY not in msg
    assert not out.exists() and not journal_path(out).exists()


def test_scores_dedupe_and_exclude_failed():
    def rec(q, t, s, m="a"):
        return {"question_id": q, "model": m, "turn": t, "score": s, "judge": ["gpt-4", "single-v1"]}

    records = [
        rec(1, 1, 4),
        rec(1, 1, 8),
        rec(2, 1, -1),
        rec(1, 2, 6),
        rec(2, 2, 3),
        rec(3, 2, -1),
        rec(1, 1, 2, "b"),
    ]
    df = mt_bench_scores(records).set_index("model")
    assert df.loc["a", "turn1"] == 8  # duplicate: last kept; -1 excluded
    assert df.loc["a", "turn2"] == 4.5
    assert df.loc["a", "score"] == pytest.approx((8 + 6 + 3) / 3)  # pooled, not (turn1 + turn2) / 2
    assert (df.loc["a", "n_judgments"], df.loc["a", "n_failed"]) == (3, 2)
    assert df.loc["b", "score"] == 2
