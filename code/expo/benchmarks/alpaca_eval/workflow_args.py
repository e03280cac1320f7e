"""What the DAG needs from the ``alpaca_eval:`` config section: is the stage on, which files, which CLI flags.

``enabled: auto`` turns the stage on only when a judge is configured: ``base_url`` set, or the API key env var
(``api_key_env``) present in the environment of the Snakemake process. ``reference`` / ``df_gamed``: ``hub`` =
a localrule downloads the file into ``resources/alpaca_eval/``; a path = that local file; ``df_gamed: null``
= no LC win rate (reported as unavailable).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from expo.benchmarks.alpaca_eval.judge import AlpacaEvalJudge
from expo.benchmarks.alpaca_eval.request import AlpacaEvalRequest
from expo.benchmarks.judge_stage import judge_cli_flags, judge_defaults, judge_stage_status
from expo.commands._flags import field_default

RESOURCE_DIR = "resources/alpaca_eval"
HUB_PATHS = {
    "reference": f"{RESOURCE_DIR}/alpaca_eval_gpt4_baseline.json",
    "df_gamed": f"{RESOURCE_DIR}/df_gamed.csv",
}
DEFAULTS = {  # judge and run defaults from the stage's dataclasses; hub = a localrule downloads the file
    **judge_defaults(AlpacaEvalJudge(), AlpacaEvalRequest),
    "reference": "hub",
    "df_gamed": "hub",
    "cache_dir": field_default(AlpacaEvalRequest, "cache_dir"),
}


def settings(config: Mapping) -> dict:
    return {**DEFAULTS, **(config.get("alpaca_eval") or {})}


def stage_status(config: Mapping, environ: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(enabled, why): the reason is the one line the DAG prints when the stage is left out."""
    return judge_stage_status("AlpacaEval", "alpaca_eval", settings(config), environ)


def resource_path(config: Mapping, what: str) -> str | None:
    """Local file of the reference / df_gamed (the hub download location for 'hub'); None = no df_gamed."""
    value = settings(config)[what]
    if value is None:
        return None
    return HUB_PATHS[what] if value == "hub" else str(value)


def alpaca_eval_cli_args(config: Mapping) -> str:
    """Flags of `expo alpaca-eval` from config (files and names are added by the rule)."""
    cfg = settings(config)
    args = [*judge_cli_flags(cfg), "--cache-dir", cfg["cache_dir"]]
    df_gamed = resource_path(config, "df_gamed")
    args += ["--df-gamed", df_gamed if df_gamed is not None else "none"]
    limit = ((config.get("prompts") or {}).get("alpaca_eval") or {}).get("limit")
    if limit:
        args.append("--allow-prefix")
    return " ".join(shlex.quote(a) for a in args)
