"""MT-Bench scores from FastChat single-mode judgment records (show_result.py's averages, made robust).

Per model: turn 1 = mean score of turn-1 judgments, turn 2 = mean of turn-2 judgments, score = mean over
all judgments pooled (FastChat's "Average"; it equals (turn1 + turn2) / 2 only when no judgment failed).
Judgments scored -1 are left out (as show_result does); then, unlike show_result, duplicated
(question, model, turn) rows keep only the last, so appended reruns are not double-counted (the same order
as ``expo.tables.mt_bench``). ``n_failed`` counts (question, turn) keys of a model with no valid score.
``run(ScoresRequest)`` is ``expo mt-bench-score``: the scores CSV (and merged judgments) with judge notes.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from expo.benchmarks.judge_client import read_judge_note, write_judge_note
from expo.errors import ExpoError
from expo.io.atomic import atomic_file, write_jsonl
from expo.io.records import read_jsonl

SCORE_COLUMNS = ["model", "turn1", "turn2", "score", "n_judgments", "n_failed"]


def mt_bench_scores(records: Iterable[dict], judge: str | None = None) -> pd.DataFrame:
    """One row per model (sorted by name): turn1, turn2, score, n_judgments (valid, deduped), n_failed."""
    rows = []
    for r in records:
        if judge is not None and (r.get("judge") or [None])[0] != judge:
            continue
        rows.append(
            {
                "question_id": r["question_id"],
                "model": r["model"],
                "turn": int(r["turn"]),
                "score": float(r["score"]),
            }
        )
    if not rows:
        return pd.DataFrame(columns=SCORE_COLUMNS)
    df = pd.DataFrame(rows)
    keys = ["question_id", "model", "turn"]
    ok_all = df[df["score"] != -1].drop_duplicates(keys, keep="last")
    out = []
    for model, group in df.groupby("model", sort=True):
        ok = ok_all[ok_all["model"] == model]
        n_keys = len(group.drop_duplicates(keys))
        out.append(
            {
                "model": model,
                "turn1": ok.loc[ok["turn"] == 1, "score"].mean(),
                "turn2": ok.loc[ok["turn"] == 2, "score"].mean(),
                "score": ok["score"].mean(),
                "n_judgments": len(ok),
                "n_failed": n_keys - len(ok),
            }
        )
    return pd.DataFrame(out, columns=SCORE_COLUMNS)


JUDGMENT_FIELDS = ("question_id", "model", "score", "turn")


def read_judgments(paths: Iterable[str | os.PathLike], require_judge: bool = True) -> list[dict]:
    """Concatenate judgment files (FastChat single-mode JSONL), checking each record: question_id, model,
    turn (1 or 2), a numeric score and (``require_judge``) the judge. The tables read files without the
    judge field too (``require_judge=False``, ``expo.tables.mt_bench``)."""
    required = JUDGMENT_FIELDS + (("judge",) if require_judge else ())
    records: list[dict] = []
    for path in paths:
        for i, r in enumerate(read_jsonl(path), 1):
            missing = [k for k in required if k not in r]
            if missing:
                raise ExpoError(f"{path}: record {i} lacks field(s) {', '.join(missing)}")
            if isinstance(r["score"], bool) or not isinstance(r["score"], int | float):
                raise ExpoError(f"{path}: record {i} has a non-numeric score {r['score']!r}")
            if r["turn"] not in (1, 2):
                raise ExpoError(f"{path}: record {i} has turn {r['turn']!r} (expected 1 or 2)")
            records.append(r)
    return records


@dataclass
class ScoresRequest:
    """``expo mt-bench-score``: merge ``judgments`` files, write per-model scores to ``out`` (CSV), optionally
    all records to ``merged``; ``judge`` keeps only that judge model's judgments. Each output gets the judge
    note of the judges it covers."""

    judgments: list[str]
    out: str
    merged: str | None = None
    judge: str | None = None


def run(req: ScoresRequest) -> pd.DataFrame:
    """Score, write the CSV (and the merged judgments) atomically with their judge notes; return the scores."""
    records = read_judgments(req.judgments)
    scores = mt_bench_scores(records, judge=req.judge)
    judges = [j for path in req.judgments for j in read_judge_note(path)]
    if not judges:  # judgment files without a note: at least the judge model names from the records
        judges = [{"judge_model": m} for m in {(r.get("judge") or [None])[0] for r in records} if m]
    judges = [j for j in judges if req.judge is None or j.get("judge_model") == req.judge]
    if req.merged:
        write_judge_note(req.merged, judges)
        write_jsonl(req.merged, records)
    write_judge_note(req.out, judges)
    with atomic_file(req.out) as fh:
        scores.to_csv(fh, index=False, float_format="%.4f")
    return scores
