"""``expo tables``: read every benchmark's raw results under ROOT, write the tables and plots into OUT.

All inputs are read and checked first (a bad file stops the command with one line naming it, before any
output); the tables are then written into a temporary folder beside OUT that replaces OUT only when complete.
OUT is recognised by a marker file, so a folder that holds anything else is never replaced.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError
from expo.io.atomic import atomic_dir, write_text
from expo.tables import alpaca, measured, mt_bench, notes, open_llm, open_llm_v2, plots, provenance, views
from expo.tables.lmeval_results import read_all
from expo.tables.published import load_published
from expo.tables.selection import read_selections
from expo.tables.writer import write_table

log = logging.getLogger(__name__)

MARKER = ".expo_tables"
TABLE_NAMES = (
    "alpaca_eval",
    "mt_bench",
    "open_llm",
    "open_llm_v2",
    "lmeval",
    "rewards_alpaca",
    "paper_pairs",
    "paper_controlled",
    "reward_per_alpha",
    "provenance",
)
DF_GAMED_DEFAULT = Path("resources") / "alpaca_eval" / "df_gamed.csv"


@dataclass
class TablesResult:
    out: Path
    files: list[Path]
    counts: dict[str, int]


def check_out_dir(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise ExpoError(f"{out}: output exists and is not a folder")
        if any(out.iterdir()) and not (out / MARKER).is_file():
            raise ExpoError(
                f"{out}: folder is not empty and was not written by expo tables; choose another --out"
            )


def resolve_df_gamed(root: Path, df_gamed: Path | None) -> Path | None:
    if df_gamed is not None:
        if not Path(df_gamed).is_file():
            raise ExpoError(f"{df_gamed}: df_gamed.csv not found (--df-gamed)")
        return Path(df_gamed)
    default = root / DF_GAMED_DEFAULT
    return default if default.is_file() else None


def build_tables(
    root: str | Path,
    out: str | Path,
    published_path: str | Path | None = None,
    selection_dir: str | Path | None = None,
    df_gamed: str | Path | None = None,
    plots_enabled: bool = True,
    stage_notes: dict[str, str] | None = None,
) -> TablesResult:
    """``stage_notes``: ``{table: why it is empty}`` from the DAG (``--note``); a table left empty without one
    says what is missing under ``root``."""
    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise ExpoError(f"{root}: results folder not found (--from)")
    check_out_dir(out)
    unknown = sorted(set(stage_notes or {}) - set(TABLE_NAMES))
    if unknown:
        raise ExpoError(
            f"--note for unknown table(s) {', '.join(unknown)} (tables: {', '.join(TABLE_NAMES)})"
        )
    published = load_published(published_path)
    selection_dir = Path(selection_dir) if selection_dir is not None else root / "selection"
    df_gamed_path = resolve_df_gamed(root, Path(df_gamed) if df_gamed is not None else None)

    # 1. read and compute everything (errors here leave no output)
    selections = read_selections(selection_dir)
    alpaca_rows = alpaca.alpaca_table(root, df_gamed_path, published.alpaca_leaderboard)
    mt_rows = mt_bench.mt_bench_table(root)
    lm_results = read_all(root)
    v1_rows = open_llm.open_llm_table(lm_results)
    v2_rows = open_llm_v2.open_llm_v2_table(lm_results)
    tables = {"alpaca_eval": alpaca_rows, "mt_bench": mt_rows, "open_llm": v1_rows, "open_llm_v2": v2_rows}
    index = views.build_index(tables, published)
    rewards = views.reward_means(root, published)
    pairs_rows = views.pairs_view(index, published, selections, rewards)
    lmeval_rows = measured.lmeval_table(lm_results, root)
    rewards_rows = measured.rewards_table(root, published)
    controlled_rows = views.controlled_view(index, published, selections, rewards)
    reward_rows = views.reward_per_alpha_view(selections, published)
    judges: dict = {}
    for row in alpaca_rows:
        judges.setdefault(views.key_of(row["model"], published), {})["alpaca"] = row.get("_annotator")
    for row in mt_rows:
        judges.setdefault(views.key_of(row["model"], published), {})["mt_bench"] = row.get("judge")
    versions = {views.key_of(r.model, published): r.versions for r in lm_results}
    names = provenance.collect_names(tables, selections, published)
    prov_rows = provenance.provenance_view(root, names, published, selections, judges, versions)

    # 2. write everything into a temp folder that replaces OUT when complete
    out_tables = [
        ("alpaca_eval", alpaca_rows, alpaca.COLUMNS, "AlpacaEval 2.0 (alpaca_eval metrics)"),
        ("mt_bench", mt_rows, mt_bench.COLUMNS, "MT-Bench (FastChat single-answer grading)"),
        ("open_llm", v1_rows, open_llm.COLUMNS, "Open LLM Leaderboard v1"),
        ("open_llm_v2", v2_rows, open_llm_v2.COLUMNS, "Open LLM Leaderboard v2 (normalised)"),
        ("lmeval", lmeval_rows, measured.LMEVAL_COLUMNS, "lm-eval: every task and metric per model"),
        (
            "rewards_alpaca",
            rewards_rows,
            measured.REWARDS_COLUMNS,
            "Mean reward on the AlpacaEval prompts per model",
        ),
        (
            "paper_pairs",
            pairs_rows,
            views.PAIRS_COLUMNS,
            "Original vs + ExPO per pair, with published numbers",
        ),
        ("paper_controlled", controlled_rows, views.CONTROLLED_COLUMNS, "Controlled zephyr runs"),
        ("reward_per_alpha", reward_rows, views.REWARD_COLUMNS, "Mean reward per alpha (selection)"),
        ("provenance", prov_rows, provenance.COLUMNS, "Provenance of each model's numbers"),
    ]
    lm_tasks = {r.model: sorted(r.metrics) for r in lm_results}
    given = stage_notes or {}
    empty_notes = {
        name: given.get(name) or notes.empty_reason(name, lm_tasks)
        for name, rows, _, _ in out_tables
        if not rows
    }
    files: list[Path] = []
    with atomic_dir(out, force=True) as tmp:
        write_text(tmp / MARKER, "written by expo tables\n")
        for name, rows, columns, title in out_tables:
            note = empty_notes.get(name)
            files += [out / p.name for p in write_table(tmp, name, rows, columns, title, note)]
        if plots_enabled:
            plots.plot_gains(pairs_rows, tmp / "expo_gain.png")
            plots.plot_reward_curves(selections, tmp / "reward_vs_alpha.png")
            files += [out / "expo_gain.png", out / "reward_vs_alpha.png"]
    assert [t[0] for t in out_tables] == list(TABLE_NAMES)
    counts = {name: len(rows) for name, rows, _, _ in out_tables}
    for name, n in counts.items():
        log.info("%s: %d rows%s", name, n, f" ({empty_notes[name]})" if name in empty_notes else "")
    return TablesResult(out=out, files=files, counts=counts)
