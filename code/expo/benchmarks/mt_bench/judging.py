"""MT-Bench single-answer grading exactly as FastChat 0.2.36 llm_judge does it, without FastChat.

What is reproduced (``fastchat/llm_judge/common.py`` and ``gen_judgment.py`` at tag v0.2.36, read, not copied):

* the matches, in gen_judgment's order: turn 1 of the non-reference categories (``single-v1``), turn 1 of
  math/reasoning/coding (``single-math-v1`` with ``ref_answer_1``), then turn 2 of both
  (``single-v1-multi-turn`` / ``single-math-v1-multi-turn`` with both turns and ``ref_answer_1/2``);
* the prompt: ``prompt_template.format(...)`` filled as ``run_judge_single`` fills it; the request is the
  ``chatgpt`` conversation (system prompt = the template's ``system_prompt``, then the user prompt) sent with
  ``model=<judge>, n=1, temperature=0, max_tokens=2048``; a judge that never answers gives ``"$ERROR$"``;
* the score: ``\\[\\[(\\d+\\.?\\d*)\\]\\]``, else ``\\[(\\d+\\.?\\d*)\\]``, first match, ``ast.literal_eval``;
  no match gives -1;
* the record ``{"question_id","model","judge":[judge, prompt name],"user_prompt","judgment","score","turn",
  "tstamp"}``.

tests/test_mt_bench_fastchat_equivalence.py checks all of it against outputs of FastChat's own functions.
"""

from __future__ import annotations

import ast
import re
import time
from dataclasses import dataclass

from expo.benchmarks.mt_bench.data import SINGLE_PROMPTS, needs_reference

API_ERROR_OUTPUT = "$ERROR$"
JUDGE_TEMPERATURE = 0
JUDGE_MAX_TOKENS = 2048
ONE_SCORE_PATTERN = re.compile(r"\[\[(\d+\.?\d*)\]\]")
ONE_SCORE_PATTERN_BACKUP = re.compile(r"\[(\d+\.?\d*)\]")


@dataclass(frozen=True)
class Match:
    """One judgment to make: a model's answer to one question, graded at turn 1 or turn 2."""

    question: dict
    model: str
    answer: dict
    prompt: dict
    reference: dict | None
    turn: int

    @property
    def key(self) -> tuple:
        return (self.question["question_id"], self.model, self.turn)


def build_user_prompt(
    question: dict, answer: dict, prompt: dict, reference: dict | None, multi_turn: bool
) -> str:
    """The judge's user message, filled exactly as FastChat's ``run_judge_single``."""
    kwargs = {}
    if reference is not None:
        kwargs["ref_answer_1"] = reference["choices"][0]["turns"][0]
        if multi_turn:
            kwargs["ref_answer_2"] = reference["choices"][0]["turns"][1]
    turns = answer["choices"][0]["turns"]
    if multi_turn:
        return prompt["prompt_template"].format(
            question_1=question["turns"][0],
            question_2=question["turns"][1],
            answer_1=turns[0],
            answer_2=turns[1],
            **kwargs,
        )
    return prompt["prompt_template"].format(question=question["turns"][0], answer=turns[0], **kwargs)


def judge_messages(prompt: dict, user_prompt: str) -> list[dict]:
    """FastChat's chatgpt conversation as OpenAI messages: the judge prompt's system message, then the user."""
    return [
        {"role": "system", "content": prompt["system_prompt"]},
        {"role": "user", "content": user_prompt},
    ]


def judge_request(judge_model: str, messages: list[dict]) -> dict:
    """The body of the chat completion FastChat sends for single-answer grading."""
    return {
        "model": judge_model,
        "messages": messages,
        "n": 1,
        "temperature": JUDGE_TEMPERATURE,
        "max_tokens": JUDGE_MAX_TOKENS,
    }


def parse_score(judgment: str) -> float | int:
    """The ``[[rating]]`` parse of FastChat: double brackets first, then single; -1 when nothing matches.

    ``ast.literal_eval`` keeps FastChat's types (``[[7]]`` -> 7, ``[[7.5]]`` -> 7.5). A number Python cannot
    read (``[[07]]``) makes FastChat raise; here it counts as unparseable (-1).
    """
    match = ONE_SCORE_PATTERN.search(judgment) or ONE_SCORE_PATTERN_BACKUP.search(judgment)
    if not match:
        return -1
    try:
        return ast.literal_eval(match.group(1))
    except (ValueError, SyntaxError):
        return -1


def make_matches(
    questions: list[dict], answer_files: list, prompts: dict[str, dict], references: dict | None
) -> list[Match]:
    """All single-grading matches for the models, in FastChat gen_judgment's order."""
    default_qs = [q for q in questions if not needs_reference(q["category"])]
    math_qs = [q for q in questions if needs_reference(q["category"])]
    matches: list[Match] = []
    for turn in (1, 2):
        for kind, group in (("default", default_qs), ("math", math_qs)):
            prompt = prompts[SINGLE_PROMPTS[(kind, turn)]]
            for q in group:
                if turn == 2 and len(q["turns"]) != 2:
                    continue
                for af in answer_files:
                    ref = references[q["question_id"]] if kind == "math" else None
                    matches.append(Match(q, af.model, af.answers[q["question_id"]], prompt, ref, turn))
    return matches


def match_user_prompt(match: Match) -> str:
    return build_user_prompt(match.question, match.answer, match.prompt, match.reference, match.turn == 2)


def make_record(match: Match, judge_model: str, user_prompt: str, judgment: str) -> dict:
    """A FastChat single-mode judgment record."""
    return {
        "question_id": match.question["question_id"],
        "model": match.model,
        "judge": [judge_model, match.prompt["name"]],
        "user_prompt": user_prompt,
        "judgment": judgment,
        "score": parse_score(judgment),
        "turn": match.turn,
        "tstamp": time.time(),
    }
