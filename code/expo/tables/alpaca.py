"""AlpacaEval 2.0 table rows from ``results_alpaca/<model>/annotations.json``, using alpaca_eval's own metrics.

* win rate, standard error and counts: ``alpaca_eval.metrics.get_winrate`` (preference 1 = reference wins,
  2 = model wins, 1.5 = tie);
* ``avg_length``: ``int(mean(len(output)))`` of the model's outputs, as ``alpaca_eval.main.evaluate`` computes
  it (``output_2`` is the model's output in the annotations);
* length-controlled win rate: ``alpaca_eval.metrics.get_length_controlled_winrate(..., save_weights_dir=None)``.
  It needs ``df_gamed.csv`` of the hub dataset ``tatsu-lab/alpaca_eval``; alpaca_eval fetches it with
  ``hf_hub_download``, which we point at a local copy (``--df-gamed``) with the AlpacaEval stage's
  ``expo.benchmarks.alpaca_eval.length_control.local_df_gamed`` so the hub is never touched. Without
  a local copy, an LC value already computed by the AlpacaEval stage (``leaderboard.csv`` beside the
  annotations) is used; otherwise LC is left empty and ``lc_note`` says why.
"""

from __future__ import annotations

import csv
import logging
from pathlib import Path

from expo.benchmarks.alpaca_eval.length_control import local_df_gamed
from expo.errors import ExpoError
from expo.io.records import read_json

log = logging.getLogger(__name__)

ALPACA_EVAL_SIZE = 805
COLUMNS = [
    "model",
    "win_rate",
    "standard_error",
    "lc_win_rate",
    "n_wins",
    "n_wins_base",
    "n_draws",
    "n_total",
    "avg_length",
    "lc_note",
    "leaderboard_win_rate",
    "leaderboard_lc_win_rate",
    "judge",
]
REQUIRED_FIELDS = ("preference", "output_2", "generator_2")


def read_annotations(path: Path):
    """Load one model's annotations as a DataFrame; reject malformed files naming the file (and row)."""
    import pandas as pd

    data = read_json(path)
    if not isinstance(data, list) or not data:
        raise ExpoError(f"{path}: expected a non-empty JSON list of annotations")
    for i, row in enumerate(data):
        if not isinstance(row, dict):
            raise ExpoError(f"{path}: annotation {i} is not a JSON object")
        missing = [f for f in REQUIRED_FIELDS if f not in row]
        if missing:
            raise ExpoError(f"{path}: annotation {i} lacks field(s) {', '.join(missing)}")
    df = pd.DataFrame(data)
    generators = sorted({str(g) for g in df["generator_2"]})
    if len(generators) > 1:
        shown = ", ".join(generators[:4]) + (", ..." if len(generators) > 4 else "")
        raise ExpoError(
            f"{path}: annotations of more than one generator ({shown}); expected one model per file"
        )
    prefs = pd.to_numeric(df["preference"], errors="coerce")
    bad = df["preference"].notna() & prefs.isna()
    if bad.any():
        i = int(bad.to_numpy().nonzero()[0][0])
        raise ExpoError(f"{path}: annotation {i} has a non-numeric preference {df['preference'].iloc[i]!r}")
    df["preference"] = prefs
    if df["output_2"].map(lambda o: not isinstance(o, str)).any():
        i = int(df["output_2"].map(lambda o: not isinstance(o, str)).to_numpy().nonzero()[0][0])
        raise ExpoError(f"{path}: annotation {i} has a non-string output_2")
    return df


def alpaca_eval_metrics(path: Path):
    """``alpaca_eval.metrics``; a one-line error when alpaca_eval (the ``eval`` extra) is not installed."""
    try:
        from alpaca_eval import metrics
    except ImportError as exc:
        raise ExpoError(
            f"{path}: reading AlpacaEval results needs alpaca_eval ({exc}); pip install 'expo-pipeline[eval]'"
        ) from None
    return metrics


def leaderboard_row(leaderboard_csv: Path, model: str) -> dict | None:
    """The row the AlpacaEval stage wrote for ``model`` in its ``leaderboard.csv``, if any."""
    if not leaderboard_csv.is_file():
        return None
    with open(leaderboard_csv, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if (row.get("") or row.get("name") or row.get("Unnamed: 0")) == model:
                return row
    return None


def lc_from_leaderboard(leaderboard_csv: Path, model: str) -> float | None:
    """The length-controlled win rate the AlpacaEval stage wrote for ``model``, if any."""
    value = (leaderboard_row(leaderboard_csv, model) or {}).get("length_controlled_winrate")
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise ExpoError(f"{leaderboard_csv}: length_controlled_winrate {value!r} is not a number") from None


def length_controlled(df, df_gamed: Path | None, path: Path) -> tuple[float | None, str]:
    """(LC win rate, note). LC is None when it cannot be computed; the note says why."""
    if df_gamed is None:
        return None, "df_gamed.csv not available locally (pass --df-gamed)"
    if len(df) != ALPACA_EVAL_SIZE:
        return None, f"LC needs all {ALPACA_EVAL_SIZE} annotations in eval-set order, {path} has {len(df)}"
    missing = [c for c in ("output_1", "generator_1", "annotator") if c not in df.columns]
    if missing:
        return None, f"LC needs field(s) {', '.join(missing)} in {path}"
    metrics = alpaca_eval_metrics(path)
    with local_df_gamed(df_gamed):
        out = metrics.get_length_controlled_winrate(df.copy(), save_weights_dir=None)
    return float(out["length_controlled_winrate"]), f"alpaca_eval GLM with {df_gamed.name}"


def alpaca_row(model: str, path: Path, df_gamed: Path | None = None) -> dict:
    """One row of alpaca_eval.csv for ``results_alpaca/<model>/annotations.json`` at ``path``."""
    df = read_annotations(path)
    metrics = alpaca_eval_metrics(path)

    generator = str(df["generator_2"].iloc[0])
    if generator != model:
        log.info("%s: generator %r listed as model %r (folder name)", path, generator, model)
    wr = metrics.get_winrate(df)
    lc, note = length_controlled(df, df_gamed, path)
    if lc is None:
        from_stage = lc_from_leaderboard(path.parent / "leaderboard.csv", generator)
        if from_stage is not None:
            lc, note = from_stage, "from leaderboard.csv of the AlpacaEval stage"
    if lc is None:
        log.warning("%s: length-controlled win rate unavailable: %s", model, note)
    annotator = str(df["annotator"].iloc[0]) if "annotator" in df.columns else None
    # the judge model the AlpacaEval stage named, else the annotator recorded in the annotations
    judge = (leaderboard_row(path.parent / "leaderboard.csv", generator) or {}).get("judge") or annotator
    return {
        "model": model,
        "win_rate": float(wr["win_rate"]),
        "standard_error": float(wr["standard_error"]),
        "lc_win_rate": lc,
        "n_wins": int(wr["n_wins"]),
        "n_wins_base": int(wr["n_wins_base"]),
        "n_draws": int(wr["n_draws"]),
        "n_total": int(wr["n_total"]),
        "avg_length": int(df["output_2"].str.len().mean()),
        "lc_note": note,
        "judge": judge,
        "_annotator": annotator,
    }


def find_annotation_files(root: Path) -> dict[str, Path]:
    """``{model: results_alpaca/<model>/annotations.json}`` for every model folder that has one."""
    base = Path(root) / "results_alpaca"
    if not base.is_dir():
        return {}
    return {p.parent.name: p for p in sorted(base.glob("*/annotations.json"))}


def alpaca_table(root: Path, df_gamed: Path | None = None, leaderboard: dict | None = None) -> list[dict]:
    """Rows of every model; ``leaderboard`` (published.yaml ``alpaca_leaderboard``) adds the official numbers."""
    rows = []
    for model, path in find_annotation_files(root).items():
        row = alpaca_row(model, path, df_gamed)
        official = (leaderboard or {}).get(model) or {}
        row["leaderboard_win_rate"] = official.get("win_rate")
        row["leaderboard_lc_win_rate"] = official.get("lc_win_rate")
        rows.append(row)
    return rows
