"""MT-Bench single-answer scores from FastChat judgment files ``model_judgment/<judge>_single.jsonl``.

FastChat's ``show_result.py --mode single`` averaging: rows with ``score == -1`` (unparsable judgment) are
dropped, duplicates on (question_id, model, turn) keep the last one (re-runs append), turn 1 / turn 2 are
the means over that turn's rows and the overall score is the mean over all remaining rows pooled (which
equals (turn1 + turn2) / 2 only when neither turn lost rows). The scoring itself is the MT-Bench stage's
``expo.benchmarks.mt_bench.scores.mt_bench_scores``; this module finds the files, checks the records and
names the judge.
"""

from __future__ import annotations

import math
from pathlib import Path

from expo.errors import ExpoError
from expo.io.records import read_jsonl

COLUMNS = ["model", "turn1", "turn2", "score", "n_judgments", "n_failed", "judge"]
REQUIRED = ("question_id", "model", "score", "turn")


def judgment_files(root: Path) -> list[Path]:
    base = Path(root) / "results_mtbench" / "mt_bench" / "model_judgment"
    return sorted(base.glob("*_single.jsonl")) if base.is_dir() else []


def read_judgments(path: Path) -> list[dict]:
    """Judgment records, checked: each needs question_id, model, turn (1 or 2) and a numeric score."""
    rows = read_jsonl(path)
    for i, row in enumerate(rows):
        missing = [k for k in REQUIRED if k not in row]
        if missing:
            raise ExpoError(f"{path}: record {i + 1} lacks field(s) {', '.join(missing)}")
        if isinstance(row["score"], bool) or not isinstance(row["score"], int | float):
            raise ExpoError(f"{path}: record {i + 1} has a non-numeric score {row['score']!r}")
        if row["turn"] not in (1, 2):
            raise ExpoError(f"{path}: record {i + 1} has turn {row['turn']!r} (expected 1 or 2)")
    return rows


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
