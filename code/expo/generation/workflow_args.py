"""Command-line arguments the DAG's generation / reward / prompt rules derive from the config.

Kept here (not in the .smk files) so the mapping config -> ``expo`` flags is plain, tested Python. The config
sections (defaults from the request dataclasses, so the functions also work on a bare dict; the schema repeats
them as documentation and a test checks that both agree):

    generation: {backend, temperature, top_k, top_p, presence_penalty, frequency_penalty, seed,
                 max_new_tokens, batch_size, tensor_parallel_size}
    prompts:    {ultrafeedback: {source, limit}, alpaca_eval: {source, limit}}
    reward:     {batch_size, dtype, verify}
"""

from __future__ import annotations

import shlex

from expo.commands._flags import field_default
from expo.generation.run import GenerateRequest
from expo.generation.sampling import SamplingSettings
from expo.reward.run import RewardRequest

SAMPLING_KEYS = (
    "temperature",
    "top_k",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "seed",
    "max_new_tokens",
)
# one place per default: the request dataclasses (the schema's defaults are checked against these by a test)
GENERATION_DEFAULTS = {
    "backend": field_default(GenerateRequest, "backend"),
    **{key: field_default(SamplingSettings, key) for key in SAMPLING_KEYS},
    "batch_size": field_default(GenerateRequest, "batch_size"),
    "tensor_parallel_size": field_default(GenerateRequest, "tensor_parallel_size"),
}
PROMPT_FILES = {
    "ultrafeedback": "resources/prompts/ultrafeedback.jsonl",
    "alpaca_eval": "resources/prompts/alpaca_eval.json",
}
REWARD_DEFAULTS = {key: field_default(RewardRequest, key) for key in ("batch_size", "dtype", "verify")}


def generation_settings(config: dict) -> dict:
    return {
        **GENERATION_DEFAULTS,
        **{k: v for k, v in (config.get("generation") or {}).items() if v is not None},
    }


def generate_cli_args(config: dict, pair: str) -> str:
    """``expo generate`` flags for ``pair``: the generation section plus the pair's stop ids, remote code, template."""
    gen = generation_settings(config)
    entry = config["pairs"][pair]
    args = ["--backend", gen["backend"]]
    for key in SAMPLING_KEYS:
        args += [f"--{key.replace('_', '-')}", str(gen[key])]
    for key in ("batch_size", "tensor_parallel_size"):
        if gen[key] is not None:
            args += [f"--{key.replace('_', '-')}", str(gen[key])]
    stop = entry.get("stop_token_ids") or []
    if stop:
        args += ["--stop-token-ids", *map(str, stop)]
    if entry.get("trust_remote_code"):
        args.append("--trust-remote-code")
    if entry.get("chat_template"):
        args += ["--chat-template", entry["chat_template"]]
    return shlex.join(args)


def prompt_source(config: dict, prompt_set: str) -> dict:
    section = (config.get("prompts") or {}).get(prompt_set) or {}
    return {"source": section.get("source", "hub"), "limit": section.get("limit")}


def fetch_prompts_cli_args(config: dict, prompt_set: str) -> str:
    src = prompt_source(config, prompt_set)
    args = ["--source", str(src["source"])]
    if src["limit"]:
        args += ["--limit", str(src["limit"])]
    return shlex.join(args)


def reward_cli_args(config: dict, trust_remote_code: bool = False) -> str:
    section = {**REWARD_DEFAULTS, **{k: v for k, v in (config.get("reward") or {}).items() if v is not None}}
    args = ["--batch-size", str(section["batch_size"]), "--dtype", section["dtype"]]
    if section["verify"]:
        args += ["--verify", str(section["verify"])]
    if trust_remote_code:
        args.append("--trust-remote-code")
    return shlex.join(args)
