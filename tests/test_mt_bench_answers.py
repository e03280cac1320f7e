"""`expo mt-bench-answer` on the tiny demo model (transformers backend): format, turns, temperatures, resume."""

from __future__ import annotations

import json

import pytest

from expo.benchmarks.mt_bench import answers as answers_mod
from expo.benchmarks.mt_bench.data import load_answer_file, load_questions
from expo.cli import main
from expo.generation.transformers_backend import TransformersGenerator

QIDS = (85, 111, 150, 156)  # writing 0.7, math 0.0 (greedy), stem 0.1, humanities 0.1


@pytest.fixture
def questions_file(shared_data, tmp_path):
    rows = [json.loads(x) for x in (shared_data / "mt_bench" / "question.jsonl").read_text().splitlines()]
    path = tmp_path / "question.jsonl"
    path.write_text("".join(json.dumps(q) + "\n" for q in rows if q["question_id"] in QIDS))
    return path


def argv(demo_dir, questions_file, out, *extra):
    return [
        "mt-bench-answer",
        "--model",
        str(demo_dir / "aligned"),
        "--questions",
        str(questions_file),
        "--out",
        str(out),
        "--model-id",
        out.stem,
        "--backend",
        "transformers",
        "--max-new-tokens",
        "8",
        "--batch-size",
        "2",
        *extra,
    ]


@pytest.fixture
def spies(monkeypatch):
    seen = {"messages": [], "temperatures": [], "generated": []}
    real_ids = answers_mod.conversation_ids
    real_use, real_generate = TransformersGenerator.set_sampling, TransformersGenerator.generate

    def ids(tokenizer, messages):
        seen["messages"].append(messages)
        return real_ids(tokenizer, messages)

    def use(self, settings):
        seen["temperatures"].append(settings.temperature)
        return real_use(self, settings)

    def generate(self, batch_ids, batch_index):
        texts = real_generate(self, batch_ids, batch_index)
        seen["generated"].append(len(batch_ids))
        if seen.get("fail_after") == len(seen["generated"]):
            raise KeyboardInterrupt
        return texts

    monkeypatch.setattr(answers_mod, "conversation_ids", ids)
    monkeypatch.setattr(TransformersGenerator, "set_sampling", use)
    monkeypatch.setattr(TransformersGenerator, "generate", generate)
    return seen


def test_answers_in_fastchat_format(demo_dir, questions_file, tmp_path, spies):
    out = tmp_path / "model_answer" / "demo_alpha0.0.jsonl"
    assert main(argv(demo_dir, questions_file, out)) == 0
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["question_id"] for r in rows] == sorted(QIDS)
    for r in rows:
        assert list(r)[:5] == ["question_id", "answer_id", "model_id", "choices", "tstamp"]
        assert r["model_id"] == "demo_alpha0.0" and r["choices"][0]["index"] == 0
        assert len(r["choices"][0]["turns"]) == 2 and all(
            isinstance(t, str) for t in r["choices"][0]["turns"]
        )
        assert r["expo"]["chat_template"] == f"tokenizer chat_template of {demo_dir / 'aligned'}"
    assert {r["question_id"]: r["expo"]["temperature"] for r in rows} == {
        85: 0.7,
        111: 0.0,
        150: 0.1,
        156: 0.1,
    }
    for r in rows:  # the sampling actually used is recorded: greedy below 1e-4, FastChat's top_p 1, no top_k
        used = r["expo"]["sampling"]
        assert used["temperature"] == (r["expo"]["temperature"] if r["expo"]["temperature"] >= 1e-4 else 0.0)
        assert (used["top_p"], used["top_k"], used["max_new_tokens"], used["seed"]) == (1.0, -1, 8, 42)
    # FastChat's temperatures, one sampling setting per group, per turn
    assert spies["temperatures"] == [0.0, 0.1, 0.7] * 2
    # turn 2 sees the question's first turn and the model's own first answer
    by_q = {r["question_id"]: r for r in rows}
    turn2 = [m for m in spies["messages"] if len(m) == 3]
    assert len(turn2) == 4
    for m in turn2:
        q = next(q for q in load_questions(questions_file) if q["turns"][0] == m[0]["content"])
        assert [x["role"] for x in m] == ["user", "assistant", "user"]
        assert m[1]["content"] == by_q[q["question_id"]]["choices"][0]["turns"][0]
        assert m[2]["content"] == q["turns"][1]
    # the judge accepts the file
    assert load_answer_file(out, load_questions(questions_file)).model == "demo_alpha0.0"
    assert not (tmp_path / "model_answer" / "demo_alpha0.0.jsonl.partial.jsonl").exists()


def test_resume_after_interrupt(demo_dir, questions_file, tmp_path, spies):
    out = tmp_path / "a" / "m.jsonl"
    spies["fail_after"] = 2
    assert main(argv(demo_dir, questions_file, out)) == 130
    assert not out.exists()
    journal = [json.loads(x) for x in (tmp_path / "a" / "m.jsonl.partial.jsonl").read_text().splitlines()]
    # header + the first batch (math, greedy: 1 question); the second batch was interrupted before journaling
    assert len(journal) == 1 + 1 and journal[1]["question_id"] == 111
    spies["fail_after"] = None
    spies["generated"].clear()
    assert main(argv(demo_dir, questions_file, out)) == 0
    assert sum(spies["generated"]) == 8 - 1  # only the turns not yet in the journal
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    first = {(r["question_id"], r["turn"]): r["text"] for r in journal[1:]}
    for (qid, turn), text in first.items():
        assert next(r for r in rows if r["question_id"] == qid)["choices"][0]["turns"][turn - 1] == text


def test_answer_errors(demo_dir, questions_file, tmp_path, capsys):
    out = tmp_path / "m.jsonl"
    bad = [
        "mt-bench-answer",
        "--model",
        str(tmp_path / "missing"),
        "--questions",
        str(questions_file),
        "--out",
        str(out),
        "--model-id",
        "m",
        "--backend",
        "transformers",
    ]
    assert main(bad) == 2
    assert "missing not found" in capsys.readouterr().err
    broken = tmp_path / "q.jsonl"
    broken.write_text('{"question_id": 1, "category": "writing", "turns": ["a"]}\n{"question_id": 2\n')
    assert main(argv(demo_dir, broken, out)) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "q.jsonl:2: malformed JSON line" in err
    assert not out.exists()
