"""Why a table is empty, written into the table itself (a ``note`` row) rather than only on the console.

Two sources: the DAG's own reasons from the config (:func:`stage_notes`, passed to ``expo tables`` as
``--note TABLE=TEXT`` by the tables rule: the judge stages left out, the lm-eval suites switched off), and,
for a table without such a note, what is missing under ROOT (:func:`empty_reason`).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from expo.errors import ExpoError

SUITE_TABLES = {
    "v1": ("open_llm", "Open LLM Leaderboard v1"),
    "v2": ("open_llm_v2", "Open LLM Leaderboard v2"),
}


def stage_notes(config: Mapping, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``{table: why it is empty}`` for the stages the config leaves out (nothing for the stages it runs)."""
    from expo.benchmarks.alpaca_eval.workflow_args import stage_status as alpaca_status
    from expo.benchmarks.lmeval.workflow_args import enabled_suites
    from expo.benchmarks.mt_bench.workflow_args import stage_status as mt_status

    notes = {}
    for table, status in (("alpaca_eval", alpaca_status), ("mt_bench", mt_status)):
        enabled, why = status(config, environ)
        if not enabled:
            notes[table] = why.replace("stage left out:", "stage not run:", 1)
    suites = enabled_suites(config)
    for suite, (table, label) in SUITE_TABLES.items():
        if suite not in suites:
            run = f" (the config runs: {', '.join(suites)})" if suites else ""
            notes[table] = f"{label} not run: lmeval.suites.{suite} is false in the config{run}"
    return notes


def note_cli_args(config: Mapping, environ: Mapping[str, str] | None = None) -> str:
    """``--note TABLE=TEXT`` flags of ``expo tables`` for the tables rule, shell-quoted."""
    args = []
    for table, text in stage_notes(config, environ).items():
        args += ["--note", f"{table}={text}"]
    return shlex.join(args)


def parse_notes(values: list[str] | None) -> dict[str, str]:
    """``["TABLE=TEXT", ...]`` (``--note``) -> ``{TABLE: TEXT}``; a value without ``=`` is an error."""
    notes = {}
    for value in values or []:
        table, sep, text = value.partition("=")
        if not sep or not table or not text.strip():
            raise ExpoError(f"--note {value!r}: expected TABLE=TEXT")
        notes[table.strip()] = " ".join(text.split())
    return notes


def empty_reason(table: str, lm_tasks: dict[str, list[str]]) -> str:
    """What is missing under ROOT for ``table`` (``lm_tasks``: model -> tasks found in results_lmeval/)."""
    if table == "alpaca_eval":
        return (
            "AlpacaEval stage not run: no results_alpaca/<model>/annotations.json (the DAG runs "
            "it only when a judge is configured: alpaca_eval.base_url or the API key variable)"
        )
    if table == "mt_bench":
        return (
            "MT-Bench stage not run: no results_mtbench/mt_bench/model_judgment/*_single.jsonl "
            "(the DAG runs it only when a judge is configured: mt_bench.base_url or the API key variable)"
        )
    if table in ("open_llm", "open_llm_v2", "lmeval"):
        label = {"open_llm": "Open LLM Leaderboard v1", "open_llm_v2": "Open LLM Leaderboard v2"}.get(table)
        if not lm_tasks:
            return "lm-eval not run: no results_lmeval/<model>/*.json"
        tasks = sorted({t for ts in lm_tasks.values() for t in ts})
        shown = ", ".join(tasks[:8]) + (f" and {len(tasks) - 8} more" if len(tasks) > 8 else "")
        return (
            f"{label} not run: results_lmeval/ holds none of its tasks (only {shown}; see the lmeval table)"
        )
    if table == "rewards_alpaca":
        return "no rewards on the AlpacaEval prompts: no rewards_alpaca/<model>.jsonl"
    if table == "reward_per_alpha":
        return "no alpha selection results (selection/<pair>.json)"
    return "no results for this table"
