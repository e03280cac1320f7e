"""Regenerate tests/data/mt_bench_fastchat_golden.json by running FastChat 0.2.36's own judge code.

Not a test and not part of the package: run it once in a throwaway venv that has FastChat's judge stack,
e.g. ``python -m venv /tmp/fsvenv && /tmp/fsvenv/bin/pip install fschat==0.2.36 openai==0.28.1 anthropic psutil``
plus torch/transformers (FastChat's model_adapter imports them), then
``/tmp/fsvenv/bin/python tests/data/make_mt_bench_fastchat_golden.py ../shared/data/mt_bench``.
The OpenAI call is intercepted (``openai.ChatCompletion.create`` is replaced by a recorder that returns a
scripted judgment), so FastChat builds the prompt, sends the request and parses the score itself.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import fastchat
import openai
from fastchat.llm_judge import common

DATA = Path(sys.argv[1])
OUT = Path(__file__).with_name("mt_bench_fastchat_golden.json")
CALLS: list[dict] = []
REPLY = {"text": ""}


def fake_create(**kwargs):
    CALLS.append(kwargs)
    return {"choices": [{"message": {"content": REPLY["text"]}}]}


openai.ChatCompletion.create = fake_create

questions = {q["question_id"]: q for q in common.load_questions(str(DATA / "question.jsonl"), None, None)}
answers = common.load_model_answers(str(DATA / "model_answer"))
refs = common.load_model_answers(str(DATA / "reference_answer"))
prompts = common.load_judge_prompts(str(DATA / "judge_prompts.jsonl"))

JUDGE = "gpt-4"
judges = {
    "default": common.Judge(JUDGE, prompts["single-v1"]),
    "math": common.Judge(JUDGE, prompts["single-math-v1"], ref_based=True),
    "default-mt": common.Judge(JUDGE, prompts["single-v1-multi-turn"], multi_turn=True),
    "math-mt": common.Judge(JUDGE, prompts["single-math-v1-multi-turn"], ref_based=True, multi_turn=True),
}
# (question_id, model, turn, scripted judge reply)
CASES = [
    (81, "zephyr-7b-beta", 1, "The answer is engaging. Rating: [[8]]"),
    (81, "zephyr-7b-beta", 2, "Rating: [[6.5]]"),
    (101, "zephyr-7b-beta", 1, "Compared with the reference, wrong. Rating: [[2]]"),
    (101, "zephyr-7b-beta-ExPO", 2, "Rating: [3]"),
    (111, "zephyr-7b-beta-ExPO", 1, "Rating: [[10]]"),
    (125, "zephyr-7b-beta", 2, "no rating given"),
    (131, "zephyr-7b-beta-ExPO", 1, "Rating: [[9]]"),
    (151, "zephyr-7b-beta-ExPO", 2, "$ERROR$"),
]
prompt_cases = []
for qid, model, turn, reply in CASES:
    q = questions[qid]
    key = ("math" if q["category"] in common.NEED_REF_CATS else "default") + ("-mt" if turn == 2 else "")
    judge = judges[key]
    match = common.MatchSingle(
        dict(q),
        model,
        answers[model][qid],
        judge,
        ref_answer=refs[JUDGE][qid] if judge.ref_based else None,
        multi_turn=turn == 2,
    )
    REPLY["text"] = reply
    CALLS.clear()
    record = common.play_a_match_single(match, output_file=None)
    record = json.loads(json.dumps(record))  # tuples -> lists, as written to the judgment file
    prompt_cases.append(
        {
            "question_id": qid,
            "model": model,
            "turn": turn,
            "category": q["category"],
            "judge_reply": reply,
            "request": CALLS[0],
            "record": record,
        }
    )

SCORE_TEXTS = [
    "Rating: [[7.5]]",
    "[[10]]",
    "Rating: [6]",
    "[[ 8 ]]",
    "$ERROR$",
    "no rating",
    "[[3]] then [[9]]",
    "[5] and later [[8]]",
    "Rating: [[7.]]",
    "[[0]]",
    "[[10.0]]",
    "rating [[4]], I mean [7]",
    "[[8/10]]",
    "[[9]]\n",
    "Score: [[ 5]]",
    "[3.25]",
]
score_cases = []
judge = judges["default"]
for text in SCORE_TEXTS:
    REPLY["text"] = text
    score, _, _ = common.run_judge_single(questions[81], answers["zephyr-7b-beta"][81], judge, None)
    score_cases.append({"judgment": text, "score": score})

# FastChat's show_result.py (single mode) on a small judgment file with failed (-1) judgments, no duplicates.
from fastchat.llm_judge import show_result  # noqa: E402

SHOW_RECORDS = [
    {"question_id": q, "model": m, "judge": [JUDGE, "single-v1"], "score": s, "turn": t}
    for (q, m, t, s) in [
        (81, "a", 1, 8),
        (82, "a", 1, -1),
        (83, "a", 1, -1),
        (81, "a", 2, 4),
        (82, "a", 2, 6.5),
        (83, "a", 2, 9),
        (81, "b", 1, 3),
        (82, "b", 1, 10),
        (83, "b", 1, 7),
        (81, "b", 2, 2),
        (82, "b", 2, 5),
        (83, "b", 2, 1),
    ]
]
show_file = Path("/tmp/mt_bench_show_result_input.jsonl")
show_file.write_text("".join(json.dumps(r) + "\n" for r in SHOW_RECORDS))
frames = []
show_result.print = lambda *a, **k: frames.extend(x for x in a if hasattr(x, "reset_index"))
show_result.display_result_single(
    type(
        "Args",
        (),
        {"input_file": str(show_file), "bench_name": "mt_bench", "judge_model": JUDGE, "model_list": None},
    )
)
t1, t2, avg = (f.reset_index() for f in frames)
show_scores = {
    m: {
        "turn1": float(t1.loc[t1.model == m, "score"].iloc[0]),
        "turn2": float(t2.loc[t2.model == m, "score"].iloc[0]),
        "score": float(avg.loc[avg.model == m, "score"].iloc[0]),
    }
    for m in ("a", "b")
}

golden = {
    "comment": (
        "Generated once by tests/data/make_mt_bench_fastchat_golden.py with "
        f"fschat=={fastchat.__version__} and openai=={openai.__version__} in a throwaway venv, on the MT-Bench "
        "data of ../shared/data/mt_bench (identical to FastChat tag v0.2.36): FastChat's own "
        "play_a_match_single/run_judge_single built every prompt, request and record and show_result.display_result_single "
        "computed show_result.scores; openai.ChatCompletion.create "
        "was replaced by a recorder returning the scripted judge reply. tstamp values are FastChat's time.time()."
    ),
    "need_ref_cats": common.NEED_REF_CATS,
    "temperature_config": common.temperature_config,
    "prompt_cases": prompt_cases,
    "score_cases": score_cases,
    "show_result": {"records": SHOW_RECORDS, "scores": show_scores},
}
OUT.write_text(json.dumps(golden, indent=1, ensure_ascii=False) + "\n")
print(f"wrote {OUT} ({len(prompt_cases)} prompt cases, {len(score_cases)} score cases)")
