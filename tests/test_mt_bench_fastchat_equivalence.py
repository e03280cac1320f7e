"""Our MT-Bench judging equals FastChat 0.2.36's: prompts, request, score parse and records.

The golden file tests/data/mt_bench_fastchat_golden.json holds outputs of FastChat's own
``play_a_match_single`` / ``run_judge_single`` (see its "comment" and make_mt_bench_fastchat_golden.py);
nothing here imports FastChat.
"""

from __future__ import annotations

import json
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
