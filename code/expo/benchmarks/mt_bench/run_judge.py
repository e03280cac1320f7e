"""Judge MT-Bench answers with an OpenAI-compatible judge: checked inputs, resumable journal, failure budget.

Design decision: FastChat itself is not run. fschat 0.2.36's judge imports ``openai<1`` (and anthropic) at
module load, which cannot share an environment with alpaca_eval (``openai>=1.5``) or vLLM (``openai>=2``), and
gen_judgment.py blocks on ``input()``, hard-codes ``data/`` paths, appends duplicates on reruns and has no
resume. Its single-grading logic is small and fixed, so ``judging.py`` reimplements it (prompt filling,
request, score parse, record format) and tests prove equality with outputs of FastChat's own functions.

Every finished judgment is appended (flushed, fsynced) to a journal ``<out>.journal.jsonl`` beside the
output; a rerun re-requests only matches whose (question, model, turn, judge model, prompt name, user
prompt) has no judgment yet, or whose judgment was an API failure (``$ERROR$``). The output (all records
of this run, in FastChat's match order and format) is written atomically only when the share of -1 scores is
within ``max_failed_fraction``; otherwise the run fails with one line giving the count and the journal is kept.
Beside it, ``<stem>.judge.json`` names the judge (model and base URL host, or "openai").
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tqdm import tqdm

from expo.benchmarks.judge_client import JudgeClient, resolve_api_key, write_judge_note
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
from expo.benchmarks.mt_bench.requests import JudgeRequest
from expo.benchmarks.mt_bench.scores import mt_bench_scores
from expo.errors import ExpoError
from expo.io.atomic import write_jsonl
from expo.io.journal import Journal

log = logging.getLogger(__name__)


def journal_path(out: str | os.PathLike) -> Path:
    return Path(f"{out}.journal.jsonl")


def record_key(record: dict) -> tuple:
    """What makes a judgment reusable: same question, model, turn, judge model, prompt name and filled prompt
    (the judge's host may change between runs: a served judge gets a new port)."""
    judge = record.get("judge") or [None, None]
    return (record["question_id"], record["model"], record["turn"], judge[0], judge[1], record["user_prompt"])


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


def run(req: JudgeRequest) -> list[dict]:
    """Judge every answer file; write FastChat single-mode records to ``req.out``; return them."""
    judge = req.judge
    if not 0.0 <= req.max_failed_fraction <= 1.0:
        raise ExpoError(f"--max-failed-fraction {req.max_failed_fraction} is not in [0, 1]")
    out = Path(req.out)
    questions, answer_files, prompts, references = load_inputs(
        req.answers, req.questions, req.judge_prompts, req.reference
    )
    matches = make_matches(questions, answer_files, prompts, references)
    prompts_by_match = [match_user_prompt(m) for m in matches]
    journal = Journal(journal_path(out), key=record_key, what="judgment journal")

    def key_of(match: Match, user_prompt: str) -> tuple:
        return (*match.key, judge.judge_model, match.prompt["name"], user_prompt)

    pending = [
        (m, up)
        for m, up in zip(matches, prompts_by_match, strict=True)
        if journal.get(key_of(m, up), {}).get("judgment", API_ERROR_OUTPUT) == API_ERROR_OUTPUT
    ]
    log.info(
        "mt-bench judge %s (%s): %d models, %d judgments, %d already in %s, %d to request",
        judge.judge_model,
        judge.host,
        len(answer_files),
        len(matches),
        len(matches) - len(pending),
        journal.path.name,
        len(pending),
    )
    if pending:
        client = JudgeClient(judge, resolve_api_key(judge, required=True))
        client.probe()

        def play(item: tuple[Match, str]) -> None:
            match, user_prompt = item
            request = judge_request(judge.judge_model, judge_messages(match.prompt, user_prompt))
            judgment = client.chat(request)
            record = make_record(match, judge.judge_model, user_prompt, judgment or API_ERROR_OUTPUT)
            journal.append({**record, "judge_host": judge.host})

        with journal, ThreadPoolExecutor(judge.concurrency) as pool:
            for _ in tqdm(pool.map(play, pending), total=len(pending), desc="mt-bench judge"):
                pass

    done = journal.records
    used = [done[key_of(m, up)] for m, up in zip(matches, prompts_by_match, strict=True)]
    # FastChat's records; the judges that made them (model and host) are named in the note beside them
    records = [{k: v for k, v in r.items() if k != "judge_host"} for r in used]
    judges = [{"judge_model": r["judge"][0], "judge_host": r.get("judge_host", "unknown")} for r in used]
    failed = sum(1 for r in records if r["score"] == -1)
    errors = sum(1 for r in records if r["judgment"] == API_ERROR_OUTPUT)
    if failed > req.max_failed_fraction * len(records):
        raise ExpoError(
            f"{failed} of {len(records)} judgments have no score (-1; {errors} judge API failures), above "
            f"--max-failed-fraction {req.max_failed_fraction}; judgments kept in {journal.path}, rerun to retry "
            "API failures"
        )
    write_judge_note(out, judges)
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
