"""ExPO: extrapolate -> generate -> reward -> select alpha -> benchmarks -> tables, keyed by (pair, alpha)."""

import os

from expo.envs.isolated import (
    DEFAULT_ROOT as DEFAULT_ENVS_ROOT,
    ROOT_ENV as ENVS_ROOT_ENV,
)
from expo.workflow_config import RESULTS_DIR_ENV, results_dir

# config/config.yaml (the paper) unless --configfile is given: a config file on the command line
# replaces it whole (a recursive merge would keep the paper's pairs in every other config).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


# Each config its own results: every output (and .snakemake/) under the config's results_root (the paper
# config: the repository root; the demo: demo_runs/demo), so configs never mix and tables see only their pairs.
# Cluster jobs inherit the absolute folder chosen here (they start in the launch directory).
os.environ[RESULTS_DIR_ENV] = results_dir(config)
# The isolated tool environments stay at the repository root, shared by every config's results root.
os.environ.setdefault(
    ENVS_ROOT_ENV,
    os.path.join(
        os.path.dirname(os.path.abspath(workflow.main_snakefile)), DEFAULT_ENVS_ROOT
    ),
)


workdir: os.environ[RESULTS_DIR_ENV]


include: "workflow/rules/common.smk"
include: "workflow/rules/resources.smk"
include: "workflow/rules/models.smk"


if "demo" in config:

    include: "workflow/rules/demo.smk"


include: "workflow/rules/prompts.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/reward.smk"
include: "workflow/rules/sweep.smk"
include: "workflow/rules/select.smk"
include: "workflow/rules/alpaca_eval.smk"
include: "workflow/rules/mt_bench.smk"
include: "workflow/rules/lmeval.smk"
include: "workflow/rules/tables.smk"
include: "workflow/rules/targets.smk"


rule all:
    default_target: True
    input:
        selection_targets(),
        benchmark_targets,
