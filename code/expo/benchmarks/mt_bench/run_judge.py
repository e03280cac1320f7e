"""Judge MT-Bench answers with an OpenAI-compatible judge: checked inputs, resumable journal, failure budget.

Design decision: FastChat itself is not run. fschat 0.2.36's judge imports ``openai<1`` (and anthropic) at
module load, which cannot share an environment with alpaca_eval (``openai>=1.5``) or vLLM (``openai>=2``), and
gen_judgment.py blocks on ``input()``, hard-codes ``data/`` paths, appends duplicates on reruns and has no
resume. Its single-grading logic is small and fixed, so ``judging.py`` reimplements it (prompt filling,
request, score parse, record format) and tests prove equality with outputs of FastChat's own functions.

Every finished judgment is appended (flushed, fsynced) to a journal ``<out>.journal.jsonl`` beside the
output; a rerun re-requests only matches whose (question, model, turn, judge, prompt name, user prompt) has
no judgment yet, or whose judgment was an API failure (``$ERROR$``). The output (all records of this run, in
FastChat's match order) is written atomically only when the share of -1 scores is within
``max_failed_fraction``; otherwise the run fails with one line giving the count and the journal is kept.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from expo.benchmarks.mt_bench.client import JudgeClient
from expo.benchmarks.mt_bench.data import (
    load_answer_file,
    load_judge_prompts,
    load_questions,
    load_reference,
    needs_reference,
)
from expo.benchmarks.mt_bench.judging import (
    API_ERROR_OUTPUT,
    Match,
    judge_messages,
    judge_request,
    make_matches,
    make_record,
    match_user_prompt,
)
from expo.benchmarks.mt_bench.scores import mt_bench_scores
from expo.errors import ExpoError
from expo.io.atomic import write_jsonl
from expo.io.records import read_jsonl

log = logging.getLogger(__name__)


def journal_path(out: str | os.PathLike) -> Path:
    return Path(f"{out}.journal.jsonl")


def record_key(record: dict) -> tuple:
    """What makes a judgment reusable: same question, model, turn, judge, prompt name and filled prompt."""
    judge = record.get("judge") or [None, None]
    return (record["question_id"], record["model"], record["turn"], judge[0], judge[1], record["user_prompt"])


def read_journal(path: Path) -> dict[tuple, dict]:
    """Finished judgments by key (last one wins); a torn last line from a kill is cut off first."""
    if not path.exists():
        return {}
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        with open(path, "r+b") as fh:
            fh.truncate(raw.rfind(b"\n") + 1)
    done: dict[tuple, dict] = {}
    for record in read_jsonl(path, allow_partial_last_line=True):
        try:
            done[record_key(record)] = record
        except (KeyError, TypeError):
            raise ExpoError(f"{path}: a journal line is not a FastChat judgment record") from None
    return done


class _Journal:
    """Append-only, thread-safe, one fsynced JSON line per finished judgment."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(path, "a", encoding="utf-8")
        self._lock = threading.Lock()

    def append(self, record: dict) -> None:
        with self._lock:
            self._fh.write(json.dumps(record, ensure_ascii=False) + "\n")
            self._fh.flush()
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._fh.close()


def load_inputs(
    answers: Iterable[str | os.PathLike],
    questions_file: str | os.PathLike,
    judge_prompts_file: str | os.PathLike,
    reference_file: str | os.PathLike | None,
) -> tuple[list[dict], list, dict, dict | None]:
    questions = load_questions(questions_file)
    prompts = load_judge_prompts(judge_prompts_file)
    answer_files = [load_answer_file(p, questions) for p in answers]
    if not answer_files:
        raise ExpoError("no answer files given")
    seen: dict[str, Path] = {}
    for af in answer_files:
        if af.model in seen:
            raise ExpoError(f"{af.path}: model name {af.model!r} also comes from {seen[af.model]}")
        seen[af.model] = af.path
    references = None
    if any(needs_reference(q["category"]) for q in questions):
        if reference_file is None:
            raise ExpoError(
                "questions of math/reasoning/coding need --reference (reference_answer/<judge>.jsonl)"
            )
        references = load_reference(reference_file, questions)
    return questions, answer_files, prompts, references


def judge_answers(
    answers: list[str | os.PathLike],
    questions_file: str | os.PathLike,
    judge_prompts_file: str | os.PathLike,
    reference_file: str | os.PathLike | None,
    out: str | os.PathLike,
    judge_model: str = "gpt-4",
    base_url: str = "https://api.openai.com/v1",
    api_key_env: str = "OPENAI_API_KEY",
    max_failed_fraction: float = 0.0,
    parallel: int = 1,
    max_retries: int = 16,
    retry_sleep: float = 10.0,
) -> list[dict]:
    """Judge every answer file; write FastChat single-mode records to ``out``; return them."""
    if not 0.0 <= max_failed_fraction <= 1.0:
        raise ExpoError(f"--max-failed-fraction {max_failed_fraction} is not in [0, 1]")
    if parallel < 1:
        raise ExpoError(f"--parallel {parallel} must be at least 1")
    out = Path(out)
    questions, answer_files, prompts, references = load_inputs(
        answers, questions_file, judge_prompts_file, reference_file
    )
    matches = make_matches(questions, answer_files, prompts, references)
    prompts_by_match = [match_user_prompt(m) for m in matches]
    jpath = journal_path(out)
    done = read_journal(jpath)

    def key_of(match: Match, user_prompt: str) -> tuple:
        return (*match.key, judge_model, match.prompt["name"], user_prompt)

    pending = [
        (m, up)
        for m, up in zip(matches, prompts_by_match, strict=True)
        if done.get(key_of(m, up), {}).get("judgment", API_ERROR_OUTPUT) == API_ERROR_OUTPUT
    ]
    log.info(
        "mt-bench judge %s: %d models, %d judgments, %d already in %s, %d to request",
        judge_model,
        len(answer_files),
        len(matches),
        len(matches) - len(pending),
        jpath.name,
        len(pending),
    )
    if pending:
        api_key = os.environ.get(api_key_env, "")
        if not api_key:
            raise ExpoError(f"environment variable {api_key_env} (the judge's API key) is not set")
        client = JudgeClient(base_url, api_key, max_retries=max_retries, retry_sleep=retry_sleep)
        client.probe(judge_model)
        journal = _Journal(jpath)

        def play(item: tuple[Match, str]) -> dict:
            match, user_prompt = item
            request = judge_request(judge_model, judge_messages(match.prompt, user_prompt))
            record = make_record(match, judge_model, user_prompt, client.chat(request))
            journal.append(record)
            return record

        try:
            with ThreadPoolExecutor(parallel) as pool:
                for record in tqdm(pool.map(play, pending), total=len(pending), desc="mt-bench judge"):
                    done[record_key(record)] = record
        finally:
            journal.close()

    records = [done[key_of(m, up)] for m, up in zip(matches, prompts_by_match, strict=True)]
    failed = sum(1 for r in records if r["score"] == -1)
    errors = sum(1 for r in records if r["judgment"] == API_ERROR_OUTPUT)
    if failed > max_failed_fraction * len(records):
        raise ExpoError(
            f"{failed} of {len(records)} judgments have no score (-1; {errors} judge API failures), above "
            f"--max-failed-fraction {max_failed_fraction}; judgments kept in {jpath}, rerun to retry API failures"
        )
    write_jsonl(out, records)
    for row in mt_bench_scores(records).itertuples():
        log.info(
            "mt-bench %s: turn1 %.3f turn2 %.3f score %.3f (%d failed)",
            row.model,
            row.turn1,
            row.turn2,
            row.score,
            row.n_failed,
        )
    if failed:
        log.warning(
            "%d of %d judgments have no score (-1) and are left out of the averages", failed, len(records)
        )
    return records
