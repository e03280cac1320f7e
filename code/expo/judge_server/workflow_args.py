"""What the DAG needs from config ``judge: {serve: ...}``: the wrapper prefix of the judge rules and their flags.

With ``judge.serve`` set, every AlpacaEval and MT-Bench judge job runs its command inside
``expo with-judge-server`` (the server lives exactly as long as the job, on the job's node), requests the judge
under the section's ``judge_model`` name at the server's base URL, and the stages are on.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping

from expo.judge_server.lifecycle import BASE_URL_PLACEHOLDER, SERVED_KEY_ENV, ServerRequest

DEFAULTS = {
    "serve": None,
    "ready_timeout_s": ServerRequest.ready_timeout_s,
    "port": "auto",
    "vllm_args": "",
}
SECTION_DEFAULT_JUDGE = {"alpaca_eval": "gpt-4-1106-preview", "mt_bench": "gpt-4"}


def settings(config: Mapping) -> dict:
    return {**DEFAULTS, **(config.get("judge") or {})}


def served(config: Mapping) -> str | None:
    """The judge model to serve, or None."""
    return settings(config)["serve"]


def judge_model(config: Mapping, section: str) -> str:
    return (config.get(section) or {}).get("judge_model") or SECTION_DEFAULT_JUDGE[section]


def served_status(config: Mapping, label: str, section: str) -> tuple[bool, str] | None:
    """(True, why) when the stage's judge is served here; None when it is not (the stage's own rules apply)."""
    model = served(config)
    if model is None:
        return None
    if (config.get(section) or {}).get("enabled") in (False, "false"):
        return False, f"{label} stage left out: {section}.enabled is false"
    return True, f"{label} judge {judge_model(config, section)} served by vLLM from {model} in each judge job"


def server_prefix(config: Mapping, section: str, log: str = "{log:q}.server") -> str:
    """``expo with-judge-server ... --`` before a judge command, or '' without ``judge.serve``."""
    model = served(config)
    if model is None:
        return ""
    cfg = settings(config)
    args = [
        "expo",
        "with-judge-server",
        "--model",
        model,
        "--served-model-name",
        judge_model(config, section),
        "--ready-timeout",
        str(cfg["ready_timeout_s"]),
        "--port",
        str(cfg["port"]),
    ]
    if cfg["vllm_args"]:
        args += ["--vllm-args", cfg["vllm_args"]]
    return " ".join(shlex.quote(a) for a in args) + f" --log {log} -- "


def served_flags(config: Mapping) -> str:
    """Flags appended to the judge command (argparse: the last one wins over the section's base_url/key)."""
    if served(config) is None:
        return ""
    return f"--judge-base-url {BASE_URL_PLACEHOLDER} --api-key-env {SERVED_KEY_ENV}"


def served_inputs(config: Mapping) -> list[str]:
    """The served model directory as a job input (built by another rule, e.g. the demo's), [] for hub ids."""
    model = served(config)
    if model is None or (
        not model.startswith((".", "/", "~")) and model.count("/") == 1 and not os.path.exists(model)
    ):
        return []
    return [os.path.normpath(model)]


def local_data_input(config: Mapping, section: str, key: str = "data") -> list[str]:
    """A local data folder of a benchmark section (not ``hub``) as an input of the rule copying it."""
    value = (config.get(section) or {}).get(key, "hub")
    return [] if value in (None, "hub") else [os.path.normpath(str(value))]
