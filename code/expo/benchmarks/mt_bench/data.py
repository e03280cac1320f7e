"""MT-Bench input files in FastChat's formats: questions, judge prompts, reference and model answers.

Every loader validates what the judge and the answer generator rely on and raises ``ExpoError`` naming the
file and line (or question id) of the first problem, before any model or API call.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.io.records import read_jsonl

# FastChat 0.2.36 fastchat/llm_judge/common.py: categories judged against a reference answer.
NEED_REF_CATS = ("math", "reasoning", "coding", "arena-hard-200")

# FastChat 0.2.36 common.py ``temperature_config``: sampling temperature per question category (0.7 otherwise).
TEMPERATURE_CONFIG = {
    "writing": 0.7,
    "roleplay": 0.7,
    "extraction": 0.0,
    "math": 0.0,
    "coding": 0.0,
    "reasoning": 0.0,
    "stem": 0.1,
    "humanities": 0.1,
    "arena-hard-200": 0.0,
}
DEFAULT_TEMPERATURE = 0.7

# The four single-answer grading prompts of judge_prompts.jsonl, keyed like gen_judgment.make_judge_single.
SINGLE_PROMPTS = {
    ("default", 1): "single-v1",
    ("math", 1): "single-math-v1",
    ("default", 2): "single-v1-multi-turn",
    ("math", 2): "single-math-v1-multi-turn",
}


def category_temperature(category: str) -> float:
    return TEMPERATURE_CONFIG.get(category, DEFAULT_TEMPERATURE)


def needs_reference(category: str) -> bool:
    return category in NEED_REF_CATS


def load_questions(path: str | os.PathLike) -> list[dict]:
    """question.jsonl rows ``{"question_id", "category", "turns": [...]}`` in file order (ids unique)."""
    rows = read_jsonl(path)
    if not rows:
        raise ExpoError(f"{path}: no questions")
    seen: set = set()
    for i, row in enumerate(rows, 1):
        qid = row.get("question_id")
        turns = row.get("turns")
        if qid is None or not isinstance(row.get("category"), str):
            raise ExpoError(f"{path}: question #{i} lacks question_id or category")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise ExpoError(f"{path}: question {qid} has no list of turn strings")
        if qid in seen:
            raise ExpoError(f"{path}: question_id {qid} appears twice")
        seen.add(qid)
    return rows


def load_judge_prompts(path: str | os.PathLike) -> dict[str, dict]:
    """judge_prompts.jsonl as ``{name: prompt}``; the four single-grading prompts must be present."""
    prompts: dict[str, dict] = {}
    for row in read_jsonl(path):
        if "name" not in row:
            raise ExpoError(f"{path}: a judge prompt has no 'name'")
        prompts[row["name"]] = row
    for name in SINGLE_PROMPTS.values():
        prompt = prompts.get(name)
        if prompt is None:
            raise ExpoError(f"{path}: judge prompt {name!r} missing")
        for key in ("system_prompt", "prompt_template", "output_format", "type"):
            if not isinstance(prompt.get(key), str):
                raise ExpoError(f"{path}: judge prompt {name!r} lacks {key!r}")
        if prompt["output_format"] != "[[rating]]" or prompt["type"] != "single":
            raise ExpoError(f"{path}: judge prompt {name!r} is not a single [[rating]] prompt")
    return prompts


def load_answers(path: str | os.PathLike) -> dict:
    """An answer file (FastChat model_answer format) as ``{question_id: record}``; later lines win."""
    answers: dict = {}
    for i, row in enumerate(read_jsonl(path), 1):
        try:
            turns = row["choices"][0]["turns"]
            qid = row["question_id"]
        except (KeyError, IndexError, TypeError):
            raise ExpoError(f"{path}: answer #{i} lacks question_id or choices[0].turns") from None
        if not isinstance(turns, list) or not all(isinstance(t, str) for t in turns):
            raise ExpoError(f"{path}: answer to question {qid} has non-string turns")
        answers[qid] = row
    return answers


def check_answers_cover(
    answers: dict, questions: list[dict], path: str | os.PathLike, what: str = "answers"
) -> None:
    """Every question needs an answer with at least as many turns as it has (FastChat's check_data)."""
    for q in questions:
        qid = q["question_id"]
        if qid not in answers:
            raise ExpoError(f"{path}: {what} lack question {qid}")
        got = len(answers[qid]["choices"][0]["turns"])
        if got < len(q["turns"]):
            raise ExpoError(
                f"{path}: {what} to question {qid} have {got} turn(s), the question has {len(q['turns'])}"
            )


@dataclass(frozen=True)
class AnswerFile:
    """One model's answers; ``model`` is the file's stem, as FastChat's load_model_answers names it."""

    path: Path
    model: str
    answers: dict


def load_answer_file(path: str | os.PathLike, questions: list[dict]) -> AnswerFile:
    path = Path(path)
    if not path.name.endswith(".jsonl"):
        raise ExpoError(f"{path}: answer files must be named <model>.jsonl")
    answers = load_answers(path)
    check_answers_cover(answers, questions, path)
    return AnswerFile(path=path, model=path.name[: -len(".jsonl")], answers=answers)


def load_reference(path: str | os.PathLike, questions: list[dict]) -> dict:
    """Reference answers (reference_answer/<judge>.jsonl) for every question of a NEED_REF_CATS category."""
    refs = load_answers(path)
    check_answers_cover(
        refs, [q for q in questions if needs_reference(q["category"])], path, "reference answers"
    )
    return refs
