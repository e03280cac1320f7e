"""What the DAG needs from the ``lmeval:`` config section: enabled suites, their result files, CLI flags."""

from __future__ import annotations

import shlex
from collections.abc import Mapping

from expo.benchmarks.lmeval.runner import LmevalRequest
from expo.benchmarks.lmeval.suites import SUITES, suite_tasks
from expo.commands._flags import field_default

DEFAULTS = {
    "suites": {"v1": True, "v2": False, "local": False},
    "backend": field_default(LmevalRequest, "backend"),
    "batch_size": field_default(LmevalRequest, "batch_size"),
    "limit": None,
    "device": None,
    "log_samples": False,
}


def settings(config: Mapping) -> dict:
    cfg = {**DEFAULTS, **(config.get("lmeval") or {})}
    cfg["suites"] = {**{s: False for s in SUITES}, **(cfg.get("suites") or {})}
    return cfg


def enabled_suites(config: Mapping) -> list[str]:
    return [s for s, on in settings(config)["suites"].items() if on]


def result_files(model: str, suite: str) -> list[str]:
    return [f"results_lmeval/{model}/{task}.json" for task in suite_tasks(suite)]


def lmeval_cli_args(config: Mapping, pair: str) -> str:
    cfg = settings(config)
    args = ["--backend", cfg["backend"], "--batch-size", str(cfg["batch_size"])]
    if cfg["limit"] is not None:
        args += ["--limit", str(cfg["limit"])]
    if cfg["device"]:
        args += ["--device", cfg["device"]]
    if cfg["log_samples"]:
        args.append("--log-samples")
    if config["pairs"][pair].get("trust_remote_code"):
        args.append("--trust-remote-code")
    return shlex.join(args)
