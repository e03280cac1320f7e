"""Whether a judge-based benchmark stage (AlpacaEval, MT-Bench) joins the DAG, and the one line saying why."""

from __future__ import annotations

import os
from collections.abc import Mapping

from expo.benchmarks.judge_client import JudgeSettings
from expo.commands._flags import field_default


def judge_stage_status(
    label: str, section: str, cfg: Mapping, environ: Mapping[str, str] | None = None
) -> tuple[bool, str]:
    """(enabled, why) for the stage ``label`` configured by ``cfg`` (config section ``section``).

    ``enabled: auto`` turns the stage on when a judge is reachable in principle: ``base_url`` set, or the
    API key variable named by ``api_key_env`` present in the environment (its value is never read here).
    """
    environ = os.environ if environ is None else environ
    enabled = cfg["enabled"]
    if enabled is False or enabled == "false":
        return False, f"{label} stage left out: {section}.enabled is false"
    if cfg["base_url"]:
        return True, f"{label} judge {cfg['judge_model']} at {cfg['base_url']}"
    if environ.get(cfg["api_key_env"]):
        return True, f"{label} judge {cfg['judge_model']} (OpenAI, key from ${cfg['api_key_env']})"
    why = f"no judge configured ({section}.base_url unset and ${cfg['api_key_env']} not in the environment)"
    if enabled is True or enabled == "true":
        return True, f"{label} stage forced on although {why}: its judge jobs will fail"
    return False, f"{label} stage left out: {why}"


def judge_defaults(judge: JudgeSettings, request_cls) -> dict:
    """The config section defaults a judge stage shares, from its judge class and request dataclass."""
    return {
        "enabled": "auto",
        "judge_model": judge.judge_model,
        "base_url": judge.base_url,
        "api_key_env": judge.api_key_env,
        "max_failed_fraction": field_default(request_cls, "max_failed_fraction"),
        "concurrency": judge.concurrency,
    }


def judge_cli_flags(cfg: Mapping) -> list[str]:
    """The judge flags shared by `expo alpaca-eval` and `expo mt-bench-judge` (the key's variable name only)."""
    flags = [
        "--judge-model",
        cfg["judge_model"],
        "--api-key-env",
        cfg["api_key_env"],
        "--max-failed-fraction",
        str(cfg["max_failed_fraction"]),
    ]
    if cfg["base_url"]:
        flags += ["--judge-base-url", cfg["base_url"]]
    return [*flags, "--concurrency", str(cfg["concurrency"])]
