"""MT-Bench single-answer scores from FastChat judgment files ``model_judgment/<judge>_single.jsonl``.

FastChat's ``show_result.py --mode single`` averaging: rows with ``score == -1`` (unparsable judgment) are
dropped, duplicates on (question_id, model, turn) keep the last one (re-runs append), turn 1 / turn 2 are
the means over that turn's rows and the overall score is the mean over all remaining rows pooled (which
equals (turn1 + turn2) / 2 only when neither turn lost rows). The scoring itself is the MT-Bench stage's
``expo.benchmarks.mt_bench.scores.mt_bench_scores`` and its records are checked by that module's
``read_judgments``; this module finds the files and names the judge.
"""

from __future__ import annotations

import math
from pathlib import Path

COLUMNS = ["model", "turn1", "turn2", "score", "n_judgments", "n_failed", "judge"]


def judgment_files(root: Path) -> list[Path]:
    base = Path(root) / "results_mtbench" / "mt_bench" / "model_judgment"
    return sorted(base.glob("*_single.jsonl")) if base.is_dir() else []


def read_judgments(path: Path) -> list[dict]:
    """Judgment records of one file, checked by the MT-Bench stage's reader
    (``expo.benchmarks.mt_bench.scores.read_judgments``); the ``judge`` field is optional here."""
    from expo.benchmarks.mt_bench.scores import read_judgments as read_stage_judgments

    return read_stage_judgments([path], require_judge=False)


def score_judgments(rows: list[dict]) -> dict[str, dict]:
    """``{model: {turn1, turn2, score, n_judgments, n_failed}}`` by the MT-Bench stage's scoring function
    (``expo.benchmarks.mt_bench.scores.mt_bench_scores``, FastChat's averaging; see module doc); a turn without
    any valid judgment is None."""
    from expo.benchmarks.mt_bench.scores import mt_bench_scores

    out = {}
    for rec in mt_bench_scores(rows).to_dict("records"):
        model = rec.pop("model")
        out[model] = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}
        out[model]["n_judgments"] = int(out[model]["n_judgments"])
        out[model]["n_failed"] = int(out[model]["n_failed"])
    return out


def judge_name(path: Path, rows: list[dict]) -> str:
    for row in rows:
        judge = row.get("judge")
        if isinstance(judge, list) and judge:
            return str(judge[0])
    return path.name.removesuffix("_single.jsonl")


def mt_bench_table(root: Path) -> list[dict]:
    rows_out = []
    for path in judgment_files(root):
        rows = read_judgments(path)
        judge = judge_name(path, rows)
        for model, values in sorted(score_judgments(rows).items()):
            rows_out.append({"model": model, **values, "judge": judge})
    return rows_out
