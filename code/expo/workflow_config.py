"""Pipeline config semantics shared by the DAG (workflow/rules/common.smk) and the CLI.

The JSON schema (workflow/schemas/config.schema.yaml) checks shapes; this module turns schema errors into
one line naming the pair and field, checks what a schema cannot (model references, alpha spellings), and
answers the DAG's questions: which alphas to sweep for a pair, where its models live on disk.
"""

from __future__ import annotations

from pathlib import Path

from expo.errors import ExpoError
from expo.naming import ModelRef, canonical_alpha, parse_model_ref


def schema_error_line(error) -> str:
    """One line for a jsonschema ValidationError: ``pairs.<pair>.<field>: <message>``."""
    where = ".".join(str(p) for p in error.absolute_path) or "<top level>"
    message = error.message.splitlines()[0]
    if len(message) > 200:
        message = message[:200] + "…"
    return f"config error at {where}: {message}"


def check_config(config: dict) -> None:
    """Checks beyond the schema: parseable model refs, no alpha listed twice once canonical."""
    for pair, entry in config["pairs"].items():
        for role in ("sft", "aligned"):
            try:
                parse_model_ref(entry[role])
            except ExpoError as exc:
                raise ExpoError(f"config error at pairs.{pair}.{role}: {exc}") from None
        grid = entry.get("alpha_grid", config.get("alpha_grid", []))
        spelled = [canonical_alpha(a) for a in grid]
        if len(set(spelled)) != len(spelled):
            raise ExpoError(f"config error at pairs.{pair}.alpha_grid: duplicate alpha values {grid}")
        if entry.get("sft") == entry.get("aligned"):
            raise ExpoError(
                f"config error at pairs.{pair}: sft and aligned are the same model {entry['sft']!r}"
            )
    try:
        parse_model_ref(config["reward_model"])
    except ExpoError as exc:
        raise ExpoError(f"config error at reward_model: {exc}") from None


def sweep_alphas(config: dict, pair: str) -> list[str]:
    """Canonical alphas (> 0) whose models the DAG builds for ``pair``, sorted numerically."""
    entry = config["pairs"][pair]
    if config.get("alpha_selection", "sweep") == "published":
        values = [entry["alpha"]]
    else:
        values = entry.get("alpha_grid", config["alpha_grid"])
    return sorted({canonical_alpha(a) for a in values}, key=float)


def model_ref(config: dict, pair: str, role: str) -> ModelRef:
    return parse_model_ref(config["pairs"][pair][role])


def model_local_dir(config: dict, ref: str) -> Path:
    return parse_model_ref(ref).local_dir(config.get("models_dir", "resources/models"))


def hub_downloads(config: dict) -> dict[str, ModelRef]:
    """``{local download dir: ModelRef}`` for every hub model the config names (pairs and reward model)."""
    refs = [config["reward_model"]]
    for entry in config["pairs"].values():
        refs += [entry["sft"], entry["aligned"]]
    out: dict[str, ModelRef] = {}
    for raw in refs:
        ref = parse_model_ref(raw)
        if ref.is_hub:
            out[str(ref.local_dir(config.get("models_dir", "resources/models")))] = ref
    return out


DEFAULT_RESULTS_ROOT = "."
# stage -> (env file when the stage runs vLLM, env file otherwise); env files live in envs/
STAGE_ENVS = {
    "generate": ("generate", "core"),
    "mt_bench_answer": ("generate", "core"),
    "lmeval": ("lmeval_vllm", "lmeval"),
}


def results_root(config: dict) -> str:
    """The folder every output of this config goes to (Snakefile ``workdir:``): each config its own results.

    The paper config keeps the repository root (outputs_ultrafeedback/, results_lmeval/, ... at the top);
    other configs set ``results_root`` (the demo: demo_runs/demo). Relative paths in the config (local models,
    prompt files, caches) are relative to it."""
    root = config.get("results_root", DEFAULT_RESULTS_ROOT)
    if not isinstance(root, str) or not root.strip():
        raise ExpoError(f"config error at results_root: expected a folder path, got {root!r}")
    return root


RESULTS_DIR_ENV = "EXPO_RESULTS_DIR"


def results_dir(config: dict, environ: dict | None = None) -> str:
    """Absolute results folder of this run: ``$EXPO_RESULTS_DIR`` when the main Snakemake process already chose it
    (cluster jobs inherit it and start in the launch directory, so a relative root must not apply twice), else
    ``results_root`` made absolute from the current directory; the Snakefile exports it for its jobs."""
    import os

    environ = os.environ if environ is None else environ
    chosen = environ.get(RESULTS_DIR_ENV)
    if chosen:
        return chosen
    return os.path.abspath(results_root(config))


def uses_vllm(config: dict, stage: str) -> bool:
    """Whether ``stage`` (generate, mt_bench_answer, lmeval) runs vLLM with this config."""
    from expo.cluster import uses_vllm as cluster_uses_vllm

    return cluster_uses_vllm(config, stage)


def stage_env(config: dict, stage: str) -> str:
    """The conda env file of a model-loading stage, relative to workflow/rules/ (vLLM stages: the vLLM pins)."""
    vllm_env, other_env = STAGE_ENVS[stage]
    return f"../../envs/{vllm_env if uses_vllm(config, stage) else other_env}.yaml"


def stage_run_prefix(config: dict, stage: str) -> str:
    """Shell prefix running a stage with its env file's pins (``expo run-isolated``: a pass-through when the
    running Python already meets them); none for stages that run in the core environment."""
    name = Path(stage_env(config, stage)).stem
    return "" if name == "core" else f"expo run-isolated {name} -- "


def check_local_models(config: dict, built_by_workflow: list[str] | None = None) -> None:
    """A local model path that does not exist is a one-line config error at DAG build (relative paths are
    relative to the results root, the working directory by then); paths under ``built_by_workflow`` folders
    (e.g. the demo's models, built by a rule) are exempt."""
    built = [Path(p).resolve() for p in (built_by_workflow or [])]
    entries = [("reward_model", config["reward_model"])]
    for pair, entry in config["pairs"].items():
        entries += [(f"pairs.{pair}.{role}", entry[role]) for role in ("sft", "aligned")]
    for where, raw in entries:
        ref = parse_model_ref(raw)
        if ref.is_hub:
            continue
        path = Path(ref.local_dir(config.get("models_dir", "resources/models"))).resolve()
        if any(path == b or b in path.parents for b in built):
            continue
        if not path.exists():
            raise ExpoError(
                f"config error at {where}: local model path {raw!r} does not exist (relative to "
                f"{Path.cwd()}; a hub model is written owner/name)"
            )
