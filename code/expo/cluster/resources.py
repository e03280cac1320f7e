"""Per-job cluster resources derived from the config: GPUs (= vLLM tensor parallel), host memory, CPUs, runtime.

Sizes come from ``pairs.<pair>.size_b`` (the model a job loads) and an optional ``cluster:`` config section:

    cluster:
      max_gpus_per_job: 4          # the largest GPU request the cluster accepts (checked at DAG build)
      gpus: {tulu-2-dpo-70b: 8}    # per-pair override of the GPU count
      reward_size_b: 7             # size of the reward model (reward_* jobs load it, not the pair)

Default GPU count (tensor parallel size): 1 up to 13B, 2 up to 35B (20B), 4 up to 80B (70B), 8 above.
A Snakemake profile cannot call workflow functions, but its ``set-resources`` values are Python
expressions evaluated with ``wildcards`` in scope, so profiles/slurm/config.yaml says e.g.
``gpu: "__import__('expo.cluster').cluster.gpus(wildcards)"``. workflow/rules/resources.smk calls
:func:`bind` with the workflow config at DAG build (also in each cluster job, which re-reads the Snakefile).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from expo.errors import ExpoError

DEFAULT_REWARD_SIZE_B = 7.0
# (largest size in billions of parameters, GPUs); anything larger gets LARGEST_GPUS.
GPU_TIERS = ((13.0, 1), (35.0, 2), (80.0, 4))
LARGEST_GPUS = 8
HOST_MEM_BASE_MB = 8000  # interpreter, CUDA context, tokenizer, prompts
HOST_MEM_PER_B_MB = 3000  # bf16 weights (2 GB per B) + loader headroom
CPUS_PER_GPU = 8
RUNTIME_REFERENCE_B_PER_GPU = 7.0  # a 7B model on one GPU takes the base runtime

CLUSTER_KEYS = {"max_gpus_per_job", "gpus", "reward_size_b"}
MODEL_KINDS = ("pair", "reward")

_bound: dict | None = None


def bind(config: Mapping[str, Any]) -> None:
    """Remember the workflow config for the wildcard-only functions below; checks the cluster section."""
    global _bound
    check_cluster_config(config)
    _bound = dict(config)


def bound_config() -> dict:
    if _bound is None:
        raise ExpoError(
            "expo.cluster: no workflow config bound; the Snakefile must include workflow/rules/resources.smk"
        )
    return _bound


def _positive_int(value: Any, where: str) -> int:
    """An int >= 1; profile `config:` values arrive as strings (Snakemake parses --config with YAML BaseLoader)."""
    try:
        number = int(str(value))
    except ValueError:
        raise ExpoError(f"config error at {where}: expected a positive integer, got {value!r}") from None
    if number < 1:
        raise ExpoError(f"config error at {where}: expected a positive integer, got {value!r}")
    return number


def _cluster_section(config: Mapping[str, Any]) -> Mapping[str, Any]:
    section = config.get("cluster") or {}
    if not isinstance(section, Mapping):
        raise ExpoError(f"config error at cluster: expected a mapping, got {section!r}")
    return section


def check_cluster_config(config: Mapping[str, Any]) -> None:
    """Shape of ``cluster:`` and, with ``max_gpus_per_job``, that every pair's jobs fit: one line naming the pair."""
    section = _cluster_section(config)
    unknown = sorted(set(section) - CLUSTER_KEYS)
    if unknown:
        raise ExpoError(
            f"config error at cluster.{unknown[0]}: unknown key (known: {', '.join(sorted(CLUSTER_KEYS))})"
        )
    pairs = config.get("pairs") or {}
    overrides = section.get("gpus") or {}
    if not isinstance(overrides, Mapping):
        raise ExpoError(f"config error at cluster.gpus: expected a mapping pair -> GPUs, got {overrides!r}")
    for pair, value in overrides.items():
        if pair not in pairs:
            raise ExpoError(f"config error at cluster.gpus.{pair}: no such pair in pairs")
        _positive_int(value, f"cluster.gpus.{pair}")
    if "reward_size_b" in section:
        try:
            if float(section["reward_size_b"]) <= 0:
                raise ValueError
        except ValueError:
            raise ExpoError(
                f"config error at cluster.reward_size_b: expected a positive number, got {section['reward_size_b']!r}"
            ) from None
    if section.get("max_gpus_per_job") is None:
        return
    limit = _positive_int(section["max_gpus_per_job"], "cluster.max_gpus_per_job")
    for pair in pairs:
        needed = gpus_for(config, pair)
        if needed > limit:
            raise ExpoError(
                f"cluster error: pair {pair!r} (size_b {pairs[pair]['size_b']}) needs {needed} GPUs per job but "
                f"cluster.max_gpus_per_job is {limit}; set cluster.gpus.{pair} or raise the limit"
            )
    needed = gpus_for(config, None, model="reward")
    if needed > limit:
        raise ExpoError(
            f"cluster error: the reward model (cluster.reward_size_b {size_b_for(config, None, 'reward')}) needs "
            f"{needed} GPUs per job but cluster.max_gpus_per_job is {limit}"
        )


def default_gpus(size: float) -> int:
    for largest, count in GPU_TIERS:
        if size <= largest:
            return count
    return LARGEST_GPUS


def pair_of(config: Mapping[str, Any], wildcards: Any) -> str:
    """The pair a job works on: the ``pair`` wildcard, or the pair prefix of a ``model`` id ``{pair}_alpha{a}``."""
    values = dict(wildcards.items()) if hasattr(wildcards, "items") else dict(wildcards)
    pairs = config.get("pairs") or {}
    if "pair" in values:
        pair = values["pair"]
        if pair not in pairs:
            raise ExpoError(f"cluster error: wildcard pair {pair!r} is not a configured pair")
        return pair
    if "model" in values:
        model = values["model"]
        matches = [p for p in pairs if model.startswith(f"{p}_alpha")]
        if matches:
            return max(matches, key=len)
        raise ExpoError(
            f"cluster error: model {model!r} does not start with a configured pair name + '_alpha'"
        )
    raise ExpoError(
        f"cluster error: a job with wildcards {sorted(values)} has no pair or model wildcard to size by"
    )


def size_b_for(config: Mapping[str, Any], pair: str | None, model: str = "pair") -> float:
    if model == "reward":
        return float(_cluster_section(config).get("reward_size_b", DEFAULT_REWARD_SIZE_B))
    if model != "pair":
        raise ExpoError(f"cluster error: model kind must be one of {MODEL_KINDS}, got {model!r}")
    return float(config["pairs"][pair]["size_b"])


def gpus_for(config: Mapping[str, Any], pair: str | None, model: str = "pair") -> int:
    """GPUs (= tensor parallel size) of a job loading ``pair``'s model (or the reward model)."""
    if model == "pair":
        override = (_cluster_section(config).get("gpus") or {}).get(pair)
        if override is not None:
            return _positive_int(override, f"cluster.gpus.{pair}")
    return default_gpus(size_b_for(config, pair, model))


def mem_mb_for(config: Mapping[str, Any], pair: str | None, model: str = "pair") -> int:
    """Host memory of a GPU job: a base plus room to load bf16 weights."""
    return int(HOST_MEM_BASE_MB + math.ceil(HOST_MEM_PER_B_MB * size_b_for(config, pair, model)))


def cpus_for(
    config: Mapping[str, Any], pair: str | None, model: str = "pair", per_gpu: int = CPUS_PER_GPU
) -> int:
    return per_gpu * gpus_for(config, pair, model)


def runtime_for(config: Mapping[str, Any], pair: str | None, model: str = "pair", base: int = 120) -> int:
    """Minutes: ``base`` for a 7B model on one GPU, scaled by parameters per GPU (never below ``base``)."""
    per_gpu = size_b_for(config, pair, model) / gpus_for(config, pair, model)
    return int(math.ceil(base * max(1.0, per_gpu / RUNTIME_REFERENCE_B_PER_GPU)))


def gpu_mem_mb_for(config: Mapping[str, Any], pair: str | None, model: str = "pair") -> int:
    """GPU memory each GPU needs for the weights plus 30% (KV cache, activations): for a gpu-memory constraint."""
    weights_mb = 2000 * size_b_for(config, pair, model)
    return int(math.ceil(1.3 * weights_mb / gpus_for(config, pair, model)))


def _resolve(wildcards: Any, model: str) -> tuple[dict, str | None]:
    config = bound_config()
    return config, (pair_of(config, wildcards) if model == "pair" else None)


# Wildcard-only forms for profile expressions (the bound config supplies the sizes).
def size_b(wildcards: Any, model: str = "pair") -> float:
    return size_b_for(*_resolve(wildcards, model), model)


def gpus(wildcards: Any, model: str = "pair") -> int:
    return gpus_for(*_resolve(wildcards, model), model)


def mem_mb(wildcards: Any, model: str = "pair") -> int:
    return mem_mb_for(*_resolve(wildcards, model), model)


def cpus(wildcards: Any, model: str = "pair", per_gpu: int = CPUS_PER_GPU) -> int:
    return cpus_for(*_resolve(wildcards, model), model, per_gpu)


def runtime(wildcards: Any, model: str = "pair", base: int = 120) -> int:
    return runtime_for(*_resolve(wildcards, model), model, base)


def gpu_mem_mb(wildcards: Any, model: str = "pair") -> int:
    return gpu_mem_mb_for(*_resolve(wildcards, model), model)
