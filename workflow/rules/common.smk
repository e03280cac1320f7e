"""Config validation, wildcard constraints and input functions shared by every stage."""

import os
import re
import sys

import jsonschema
from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version, validate

from expo.errors import ExpoError
from expo.naming import ALPHA_REGEX, canonical_alpha, model_id
from expo.workflow_config import (
    check_config,
    hub_downloads,
    model_local_dir,
    schema_error_line,
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
    except ExpoError as exc:
        sys.exit(str(exc))


_validate_config()

PAIRS = list(config["pairs"])
# The repository (for files shipped with the workflow, wherever the working directory is)
REPO_DIR = os.path.dirname(os.path.abspath(workflow.main_snakefile))
MODELS_DIR = config["models_dir"]
HUB_DOWNLOADS = hub_downloads(config)


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
