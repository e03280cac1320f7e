"""What the DAG needs from the ``mt_bench:`` config section: is the stage on, which files, which CLI flags.

``enabled: auto`` turns the stage on only when a judge is configured: ``base_url`` set, or the API key
variable (``api_key_env``) present in the Snakemake process's environment. ``data: hub`` = FastChat
v0.2.36's files fetched by a localrule into ``resources/mt_bench/``; a path = a local folder copied from.
Answers are generated with ``backend`` (default: the ``generation:`` section's backend).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping

from expo.benchmarks.judge_stage import judge_cli_flags, judge_defaults, judge_stage_status
from expo.benchmarks.mt_bench.requests import AnswerRequest, JudgeRequest, MtBenchJudge
from expo.commands._flags import field_default

DATA_DIR = "resources/mt_bench"
DATA_FILES = {
    "questions": f"{DATA_DIR}/question.jsonl",
    "judge_prompts": f"{DATA_DIR}/judge_prompts.jsonl",
    "reference": f"{DATA_DIR}/reference_answer/gpt-4.jsonl",
}
DEFAULTS = {  # judge and answer defaults from the stage's dataclasses
    **judge_defaults(MtBenchJudge(), JudgeRequest),
    "data": "hub",
    "backend": None,
    "max_new_tokens": field_default(AnswerRequest, "max_new_tokens"),
}
RESULTS = "results_mtbench/mt_bench"


def settings(config: Mapping) -> dict:
    return {**DEFAULTS, **(config.get("mt_bench") or {})}


def stage_status(config: Mapping, environ: Mapping[str, str] | None = None) -> tuple[bool, str]:
    """(enabled, why): the reason is the one line the DAG prints when the stage is left out."""
    return judge_stage_status("MT-Bench", "mt_bench", settings(config), environ)


def judge_slug(config: Mapping) -> str:
    """The judge name as used in file names (FastChat: model_judgment/<judge>_single.jsonl)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", settings(config)["judge_model"])


def answer_file(model: str) -> str:
    return f"{RESULTS}/model_answer/{model}.jsonl"


def judgment_file(config: Mapping, model: str) -> str:
    return f"{RESULTS}/model_judgment/{judge_slug(config)}_single/{model}.jsonl"


def aggregate_files(config: Mapping) -> dict[str, str]:
    return {
        "judgments": f"{RESULTS}/model_judgment/{judge_slug(config)}_single.jsonl",
        "scores": f"{RESULTS}/{judge_slug(config)}_scores.csv",
    }


def fetch_cli_args(config: Mapping) -> str:
    data = settings(config)["data"]
    return "" if data == "hub" else f"--from {shlex.quote(str(data))}"


def answer_backend(config: Mapping) -> str:
    """mt_bench.backend, else the generation section's backend, else vllm."""
    return settings(config)["backend"] or (config.get("generation") or {}).get("backend") or "vllm"


def answer_cli_args(config: Mapping, pair: str) -> str:
    cfg = settings(config)
    entry = config["pairs"][pair]
    args = ["--backend", answer_backend(config), "--max-new-tokens", str(cfg["max_new_tokens"])]
    if entry.get("stop_token_ids"):
        args += ["--stop-token-ids", *map(str, entry["stop_token_ids"])]
    if entry.get("trust_remote_code"):
        args.append("--trust-remote-code")
    if entry.get("chat_template"):
        args += ["--chat-template", entry["chat_template"]]
    return shlex.join(args)


def judge_cli_args(config: Mapping) -> str:
    return shlex.join(judge_cli_flags(settings(config)))
