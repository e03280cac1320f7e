"""Config validation, wildcard constraints and input functions shared by every stage.

Self-contained: everything used below is imported here; path and environment choices come from tested
Python (expo.workflow_config, the stages' workflow_args modules), not from other .smk files.
"""

import os
import re
import sys

import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from expo.benchmarks.alpaca_eval.workflow_args import (
    resource_path,
    stage_status as alpaca_eval_stage_status,
)
from expo.benchmarks.lmeval.workflow_args import enabled_suites, result_files
from expo.benchmarks.mt_bench.workflow_args import (
    aggregate_files,
    stage_status as mt_bench_stage_status,
)
from expo.errors import ExpoError
from expo.generation.workflow_args import prompt_source
from expo.judge_server.workflow_args import served_status
from expo.naming import ALPHA_REGEX, canonical_alpha, model_id
from expo.selection.stats import read_chosen_alpha
from expo.workflow_config import (
    check_config,
    check_local_models,
    hub_downloads,
    model_local_dir,
    schema_error_line,
    stage_env,
    stage_run_prefix,
    sweep_alphas,
)

min_version("9.0")


def _validate_config():
    """Schema + semantic checks; a bad entry stops the DAG build with one line naming pair and field."""
    try:
        validate(config, "../schemas/config.schema.yaml")
    except WorkflowError as exc:
        cause = (
            exc.__context__
        )  # validate() raises WorkflowError from the jsonschema error
        if isinstance(cause, jsonschema.ValidationError):
            sys.exit(schema_error_line(cause))
        sys.exit(f"config error: {str(exc).splitlines()[0]}")
    try:
        check_config(config)
        demo_out = [config["demo"]["out"]] if "demo" in config else []
        check_local_models(config, built_by_workflow=demo_out)
    except ExpoError as exc:
        sys.exit(str(exc))


_validate_config()

PAIRS = list(config["pairs"])
# The repository (for files shipped with the workflow, wherever the working directory is)
REPO_DIR = os.path.abspath(
    os.path.join(workflow.current_basedir.get_path_or_uri(secret_free=True), "..", "..")
)
MODELS_DIR = config["models_dir"]
HUB_DOWNLOADS = hub_downloads(config)
# published: each pair's published alpha, no sweep and no checkpoint (a static DAG)
PUBLISHED = config.get("alpha_selection", "sweep") == "published"
_ALPACA_EVAL_STATUS = served_status(
    config, "AlpacaEval", "alpaca_eval"
) or alpaca_eval_stage_status(config)
_ALPACA_EVAL_SAID = []
_MT_BENCH_STATUS = served_status(
    config, "MT-Bench", "mt_bench"
) or mt_bench_stage_status(config)
_MT_BENCH_SAID = []


def _alternation(names):
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))


wildcard_constraints:
    pair=_alternation(PAIRS),
    alpha=ALPHA_REGEX,
    download=_alternation([os.path.basename(d) for d in HUB_DOWNLOADS]) or "(?!)",


def download_ref(wildcards):
    return HUB_DOWNLOADS[os.path.normpath(f"{MODELS_DIR}/{wildcards.download}")]


def pair_cfg(pair):
    return config["pairs"][pair]


def isolated(env_file):
    """Shell prefix running a tool stage with the pins of its env file: a pass-through when the running
    Python already meets them, else an isolated uv environment built once from the same pins (expo.envs).
    """
    name = os.path.splitext(os.path.basename(env_file))[0]
    return f"expo run-isolated {name} -- "


def stage_shell_prefix(stage):
    """The environment prefix of a model-loading stage (generate, mt_bench_answer, lmeval): expo.workflow_config."""
    return stage_run_prefix(config, stage)


def model_dir_of(ref):
    """Local directory of a model reference (a download folder for hub ids)."""
    return os.path.normpath(model_local_dir(config, ref))


def sft_dir(wildcards):
    return model_dir_of(pair_cfg(wildcards.pair)["sft"])


def aligned_dir(wildcards):
    return model_dir_of(pair_cfg(wildcards.pair)["aligned"])


def reward_model_dir(wildcards=None):
    return model_dir_of(config["reward_model"])


def sweep_model_dir(pair, alpha):
    """Model used for the sweep: the aligned model itself at alpha 0, else a temporary extrapolation."""
    alpha = canonical_alpha(alpha)
    if float(alpha) == 0.0:
        return model_dir_of(pair_cfg(pair)["aligned"])
    return f"models/sweep/{model_id(pair, alpha)}"


def final_model_dir(pair, alpha):
    """Model kept for the benchmarks: the aligned model at alpha 0, else a kept extrapolation."""
    alpha = canonical_alpha(alpha)
    if float(alpha) == 0.0:
        return model_dir_of(pair_cfg(pair)["aligned"])
    return f"models/{model_id(pair, alpha)}"


def sweep_model_ids(pair):
    """Model ids of the sweep of ``pair``: alpha 0 (the aligned model) and every swept alpha."""
    return [model_id(pair, a) for a in ["0.0"] + sweep_alphas(config, pair)]


# ---- input functions of prompts.smk ----


def prompt_set_of(wildcards):
    return wildcards.prompt_file.split(".")[0]


def prompt_source_input(wildcards):
    """A local source file is an input (edits rerun the rule); the hub is not a file."""
    source = prompt_source(config, prompt_set_of(wildcards))["source"]
    return [] if source == "hub" else [source]


# ---- input functions of alpaca_eval.smk ----


def alpaca_eval_enabled():
    """Whether the AlpacaEval stage joins the DAG; says once, in one line, why not when it does not."""
    enabled, why = _ALPACA_EVAL_STATUS
    if not enabled and not _ALPACA_EVAL_SAID:
        print(why, file=sys.stderr)
        _ALPACA_EVAL_SAID.append(why)
    return enabled


def alpaca_eval_result_files(model):
    return [
        f"results_alpaca/{model}.json",
        f"results_alpaca/{model}/annotations.json",
        f"results_alpaca/{model}/leaderboard.csv",
    ]


def alpaca_eval_targets():
    """Result files of every benchmark model of every pair (needs select.smk's benchmark_models)."""
    return [
        f
        for pair in PAIRS
        for model in benchmark_models(pair)
        for f in alpaca_eval_result_files(model)
    ]


def alpaca_eval_df_gamed(wildcards):
    path = resource_path(config, "df_gamed")
    return [path] if path else []


# ---- input functions of mt_bench.smk ----


def mt_bench_enabled():
    """Whether the MT-Bench stage joins the DAG; says once, in one line, why not when it does not."""
    enabled, why = _MT_BENCH_STATUS
    if not enabled and not _MT_BENCH_SAID:
        print(why, file=sys.stderr)
        _MT_BENCH_SAID.append(why)
    return enabled


def mt_bench_models():
    return [model for pair in PAIRS for model in benchmark_models(pair)]


def mt_bench_targets():
    return list(aggregate_files(config).values())


# ---- input functions of lmeval.smk ----


def lmeval_targets(wildcards=None):
    """Result files of every enabled suite for every benchmark model (needs select.smk's benchmark_models).

    Use it as an input function (it reads the selection checkpoint)."""
    return [
        f
        for pair in PAIRS
        for model in benchmark_models(pair)
        for suite in enabled_suites(config)
        for f in result_files(model, suite)
    ]


# ---- input functions of tables.smk ----


def benchmark_result_files(model):
    """Result files of one benchmark model (alpha 0.0 or the chosen alpha) across the enabled stages."""
    files = [f"outputs_alpaca/{model}.json", f"rewards_alpaca/{model}.jsonl"]
    if alpaca_eval_enabled():
        files += alpaca_eval_result_files(model)
    if mt_bench_enabled():  # the tables read the merged judgments of all models
        files += list(aggregate_files(config).values())
    files += [f for suite in enabled_suites(config) for f in result_files(model, suite)]
    return files


def selection_targets():
    """Every pair's alpha sweep up to its selection and plot (none in published mode: no sweep)."""
    if PUBLISHED:
        return []
    return [
        f for pair in PAIRS for f in (f"selection/{pair}.json", f"selection/{pair}.png")
    ]


def tables_inputs(wildcards):
    files = [f for f in selection_targets() if f.endswith(".json")]
    for pair in PAIRS:
        for mid in benchmark_models(pair):
            files += benchmark_result_files(mid)
    return files


# ---- input functions of select.smk ----


def _sweep_files(folder, ext):
    def files(wildcards):
        return {
            a: f"{folder}/{model_id(wildcards.pair, a)}.{ext}"
            for a in ["0.0"] + sweep_alphas(config, wildcards.pair)
        }

    return files


def _alpha_file_args(folder, ext):
    def args(wildcards):
        return " ".join(
            f"{a}={path}" for a, path in _sweep_files(folder, ext)(wildcards).items()
        )

    return args


def chosen_alpha(pair):
    """The pair's chosen alpha (canonical string) or None; triggers the select_alpha checkpoint (published
    mode: the pair's published alpha, no checkpoint)."""
    if PUBLISHED:
        return canonical_alpha(pair_cfg(pair)["alpha"])
    return read_chosen_alpha(checkpoints.select_alpha.get(pair=pair).output.selection)


def benchmark_models(pair):
    """Model ids the benchmarks run on: the aligned model (alpha 0.0) and the chosen extrapolation."""
    chosen = chosen_alpha(pair)
    return [model_id(pair, "0.0")] + (
        [model_id(pair, chosen)] if chosen is not None else []
    )
