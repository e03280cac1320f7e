"""Per-job cluster resources derived from the config: GPUs (= vLLM tensor parallel), host memory, CPUs, runtime.

Sizes come from ``pairs.<pair>.size_b`` (the model a job loads) and an optional ``cluster:`` config section:

    cluster:
      max_gpus_per_job: 4          # the largest GPU request the cluster accepts (checked at DAG build)
      gpus: {tulu-2-dpo-70b: 8}    # per-pair override of the GPU count (= vLLM tensor parallel size)
      reward_size_b: 7             # size of the reward model (reward_* jobs load it, not the pair)
      use_gpus: true               # false: every job runs on CPU and asks for no GPU (the demo)

Default GPU count (tensor parallel size): 1 up to 13B, 2 up to 35B (20B), 4 up to 80B (70B), 8 above.
A job asks for GPUs only when its stage uses one (``stage`` argument, see :data:`STAGES`): vLLM stages ask
for the tensor parallel size; transformers generation, reward scoring and lm-eval's hf backend ask for one
GPU, none when lm-eval's device is ``cpu`` or ``cluster.use_gpus`` is false. CPU jobs ask for CPUs and
memory from the model size (1 CPU and ~1 GB for the demo's tiny models).
A Snakemake profile cannot call workflow functions, but its ``set-resources`` values are Python
expressions evaluated with ``wildcards`` in scope, so profiles/slurm/config.yaml says e.g.
``gpu: "__import__('expo.cluster').cluster.gpus(wildcards)"``. workflow/rules/resources.smk calls
:func:`bind` with the workflow config at DAG build (also in each cluster job, which re-reads the Snakefile).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
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

CPU_MEM_BASE_MB = 1000  # a CPU job: interpreter and tokenizer
CPU_MEM_PER_B_MB = 4500  # fp32 weights on CPU (4 GB per B) + headroom
MAX_CPUS_CPU_JOB = 8

CLUSTER_KEYS = {"max_gpus_per_job", "gpus", "reward_size_b", "use_gpus", "cpus_per_gpu"}
# stage -> the model it loads ("pair" or "reward"); the profile passes stage= for each rule
STAGES = {"generate": "pair", "mt_bench_answer": "pair", "lmeval": "pair", "reward": "reward"}
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
    _flag(section.get("use_gpus", True), "cluster.use_gpus")
    _positive_int(section.get("cpus_per_gpu", CPUS_PER_GPU), "cluster.cpus_per_gpu")
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
        return tensor_parallel_size(config, pair)
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


def _flag(value: Any, where: str) -> bool:
    """A boolean; profile/--config values may arrive as strings."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ExpoError(f"config error at {where}: expected true or false, got {value!r}")


def stage_backend(config: Mapping[str, Any], stage: str) -> str:
    """The backend a stage runs: ``vllm``, ``transformers`` or ``hf`` (lm-eval), ``reward`` (transformers)."""
    if stage not in STAGES:
        raise ExpoError(f"cluster error: stage must be one of {sorted(STAGES)}, got {stage!r}")
    # the stages' own settings functions: their defaults live with their request dataclasses
    if stage == "generate":
        from expo.generation.workflow_args import generation_settings

        return generation_settings(dict(config))["backend"]
    if stage == "mt_bench_answer":
        from expo.benchmarks.mt_bench.workflow_args import answer_backend

        return answer_backend(config)
    if stage == "lmeval":
        from expo.benchmarks.lmeval.workflow_args import settings

        return settings(config)["backend"]
    return "reward"


def uses_vllm(config: Mapping[str, Any], stage: str) -> bool:
    return stage_backend(config, stage) == "vllm"


def uses_gpu(config: Mapping[str, Any], stage: str) -> bool:
    """Whether a job of ``stage`` needs a GPU: not with ``cluster.use_gpus: false``, nor lm-eval on ``device: cpu``."""
    if not _flag(_cluster_section(config).get("use_gpus", True), "cluster.use_gpus"):
        return False
    if stage_backend(config, stage) == "hf":
        device = (config.get("lmeval") or {}).get("device")
        return not (device and str(device).startswith("cpu"))
    return True


def tensor_parallel_size(config: Mapping[str, Any], pair: str) -> int:
    """vLLM tensor parallel size of ``pair``: cluster.gpus.<pair>, else generation.tensor_parallel_size, else by size."""
    override = (_cluster_section(config).get("gpus") or {}).get(pair)
    if override is not None:
        return _positive_int(override, f"cluster.gpus.{pair}")
    configured = (config.get("generation") or {}).get("tensor_parallel_size")
    if configured is not None:
        return _positive_int(configured, "generation.tensor_parallel_size")
    return default_gpus(size_b_for(config, pair))


def tensor_parallel_args(config: Mapping[str, Any], stage: str, pair: str) -> str:
    """``--tensor-parallel-size N`` for a vLLM stage of ``pair`` (empty for other backends): every vLLM user of a
    pair's model gets the GPUs its job asked for."""
    if not uses_vllm(config, stage):
        return ""
    return f"--tensor-parallel-size {tensor_parallel_size(config, pair)}"


def stage_gpus_for(config: Mapping[str, Any], stage: str, pair: str | None) -> int:
    """GPUs a job of ``stage`` asks for: 0 on CPU, the tensor parallel size for vLLM, 1 for transformers/hf."""
    if not uses_gpu(config, stage):
        return 0
    if STAGES[stage] == "reward":
        return gpus_for(config, None, model="reward")
    if uses_vllm(config, stage):
        return tensor_parallel_size(config, pair)
    return 1


def stage_mem_mb_for(config: Mapping[str, Any], stage: str, pair: str | None) -> int:
    size = size_b_for(config, pair, STAGES[stage])
    if stage_gpus_for(config, stage, pair):
        return int(HOST_MEM_BASE_MB + math.ceil(HOST_MEM_PER_B_MB * size))
    return int(CPU_MEM_BASE_MB + math.ceil(CPU_MEM_PER_B_MB * size))


def stage_cpus_for(
    config: Mapping[str, Any], stage: str, pair: str | None, per_gpu: int | None = None
) -> int:
    """GPU jobs: cluster.cpus_per_gpu (default 8) per GPU; CPU jobs: 1 per B of parameters, 1 to 8."""
    gpu_count = stage_gpus_for(config, stage, pair)
    if gpu_count:
        if per_gpu is None:
            per_gpu = _positive_int(
                _cluster_section(config).get("cpus_per_gpu", CPUS_PER_GPU), "cluster.cpus_per_gpu"
            )
        return per_gpu * gpu_count
    size = size_b_for(config, pair, STAGES[stage])
    return int(min(MAX_CPUS_CPU_JOB, max(1, math.ceil(size))))


def stage_runtime_for(config: Mapping[str, Any], stage: str, pair: str | None, base: int = 120) -> int:
    per_device = size_b_for(config, pair, STAGES[stage]) / max(1, stage_gpus_for(config, stage, pair))
    return int(math.ceil(base * max(1.0, per_device / RUNTIME_REFERENCE_B_PER_GPU)))


def job_resources(config: Mapping[str, Any], stage: str, pair: str | None, base_runtime: int = 120) -> dict:
    """Everything a job of ``stage`` on ``pair`` asks a cluster for (also for a served judge: stage ``generate``)."""
    return {
        "gpu": stage_gpus_for(config, stage, pair),
        "mem_mb": stage_mem_mb_for(config, stage, pair),
        "cpus_per_task": stage_cpus_for(config, stage, pair),
        "runtime": stage_runtime_for(config, stage, pair, base_runtime),
    }


def attention_heads(model_dir: str | Path) -> int | None:
    """``num_attention_heads`` of a local model's config.json (None when the model is not local yet)."""
    path = Path(model_dir) / "config.json"
    if not path.is_file():
        return None
    try:
        cfg = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ExpoError(f"cluster error: cannot read {path}: {exc}") from None
    for section in (cfg, cfg.get("text_config") or {}, cfg.get("llm_config") or {}):
        heads = section.get("num_attention_heads") or section.get("n_head")
        if heads:
            return int(heads)
    return None


def check_tensor_parallel(model_dir: str | Path, tp: int, what: str, fix: str = "") -> None:
    """vLLM splits attention heads over GPUs: ``tp`` must divide the model's heads (once its config.json is local)."""
    heads = attention_heads(model_dir)
    if heads is not None and heads % tp:
        divisors = [d for d in range(1, heads + 1) if heads % d == 0 and d <= 16]
        raise ExpoError(
            f"cluster error: {what} runs vLLM with tensor parallel {tp}, which does not divide the {heads} "
            f"attention heads in {Path(model_dir) / 'config.json'}; use one of {divisors}{fix}"
        )


def pair_model_dirs(config: Mapping[str, Any]) -> dict[str, list[Path]]:
    """pair -> local directories of its SFT and aligned models (download folders for hub ids)."""
    from expo.naming import parse_model_ref

    models_dir = config.get("models_dir", "resources/models")
    return {
        pair: [
            parse_model_ref(entry[role]).local_dir(models_dir) for role in ("sft", "aligned") if role in entry
        ]
        for pair, entry in (config.get("pairs") or {}).items()
    }


def check_pair_tensor_parallel(
    config: Mapping[str, Any], model_dirs: Mapping[str, list] | None = None
) -> None:
    """At DAG build: each pair's vLLM tensor parallel size against the heads of its local models
    (``model_dirs``: pair -> local model directories, default :func:`pair_model_dirs`; those without
    config.json yet are skipped)."""
    if model_dirs is None:
        model_dirs = pair_model_dirs(config)
    if not any(
        uses_vllm(config, s) and uses_gpu(config, s) for s in ("generate", "mt_bench_answer", "lmeval")
    ):
        return
    for pair, dirs in model_dirs.items():
        tp = tensor_parallel_size(config, pair)
        for model_dir in dirs:
            check_tensor_parallel(model_dir, tp, f"pair {pair!r}", f" (set cluster.gpus.{pair})")


def _resolve(wildcards: Any, model: str) -> tuple[dict, str | None]:
    config = bound_config()
    return config, (pair_of(config, wildcards) if model == "pair" else None)


# Wildcard-only forms for profile expressions (the bound config supplies the sizes). With ``stage`` the
# request follows the stage's backend and device (no GPU for CPU jobs); without it, the GPU sizing by model.
def size_b(wildcards: Any, model: str = "pair") -> float:
    return size_b_for(*_resolve(wildcards, model), model)


def gpus(wildcards: Any, model: str = "pair", stage: str | None = None) -> int:
    if stage is not None:
        config, pair = _resolve(wildcards, STAGES.get(stage, "pair"))
        return stage_gpus_for(config, stage, pair)
    return gpus_for(*_resolve(wildcards, model), model)


def mem_mb(wildcards: Any, model: str = "pair", stage: str | None = None) -> int:
    if stage is not None:
        config, pair = _resolve(wildcards, STAGES.get(stage, "pair"))
        return stage_mem_mb_for(config, stage, pair)
    return mem_mb_for(*_resolve(wildcards, model), model)


def cpus(wildcards: Any, model: str = "pair", per_gpu: int | None = None, stage: str | None = None) -> int:
    if stage is not None:
        config, pair = _resolve(wildcards, STAGES.get(stage, "pair"))
        return stage_cpus_for(config, stage, pair, per_gpu)
    return cpus_for(*_resolve(wildcards, model), model, per_gpu or CPUS_PER_GPU)


def runtime(wildcards: Any, model: str = "pair", base: int = 120, stage: str | None = None) -> int:
    if stage is not None:
        config, pair = _resolve(wildcards, STAGES.get(stage, "pair"))
        return stage_runtime_for(config, stage, pair, base)
    return runtime_for(*_resolve(wildcards, model), model, base)


def gpu_mem_mb(wildcards: Any, model: str = "pair") -> int:
    return gpu_mem_mb_for(*_resolve(wildcards, model), model)


def served_model_resources(
    size: float, model_dir: str | Path | None = None, gpus: int | None = None, what: str = "served model"
) -> dict:
    """Resources and tensor parallel size of a vLLM server for a model of ``size`` B parameters (e.g. a served
    judge): ``gpus`` or the size rule, checked against the model's attention heads when its config is local."""
    tp = _positive_int(gpus, f"{what} GPUs") if gpus is not None else default_gpus(float(size))
    if model_dir is not None:
        check_tensor_parallel(model_dir, tp, what)
    return {
        "gpu": tp,
        "tensor_parallel_size": tp,
        "mem_mb": int(HOST_MEM_BASE_MB + math.ceil(HOST_MEM_PER_B_MB * float(size))),
        "cpus_per_task": CPUS_PER_GPU * tp,
    }
