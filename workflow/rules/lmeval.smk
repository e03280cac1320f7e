"""lm-eval 0.4.13 (Open LLM Leaderboard v1 / v2, local smoke task) for each benchmark model.

Outputs per model id {pair}_alpha{alpha}: results_lmeval/{pair}_alpha{alpha}/<task>.json (one per benchmark
task of the suite), with lm-eval's raw output kept under results_lmeval/{pair}_alpha{alpha}/raw/.
Suites are switched in config `lmeval.suites`; backend vllm (GPU, tensor parallel = the job's GPUs) or hf
(CPU/GPU). Their datasets are fetched by the localrule fetch_lmeval_data on the submit host into the project
cache (lmeval.datasets_cache) that every job reads offline; a gated dataset without a token stops the DAG build.
"""

import os
import sys

from expo.benchmarks.lmeval.datasets import (
    check_gated,
    datasets_cache_dir,
    manifest_path,
    suite_data_inputs,
)
from expo.benchmarks.lmeval.workflow_args import lmeval_cli_args
from expo.cluster import tensor_parallel_args
from expo.errors import ExpoError

LMEVAL_ENV = stage_env(config, "lmeval")
LMEVAL_DATA = datasets_cache_dir(config)

try:
    check_gated(enabled_suites(config), LMEVAL_DATA)
except ExpoError as exc:
    sys.exit(str(exc))


localrules:
    fetch_lmeval_data,


rule fetch_lmeval_data:
    output:
        manifest_path(LMEVAL_DATA, "{suite}"),
    log:
        "logs/fetch_lmeval_data/{suite}.log",
    wildcard_constraints:
        suite="v1|v2",
    conda:
        LMEVAL_ENV
    params:
        cache=lambda wc, output: os.path.dirname(output[0]),
    shell:
        isolated(LMEVAL_ENV)
        + "expo fetch-lmeval-data --suite {wildcards.suite} --cache {params.cache:q} > {log:q} 2>&1"


rule lmeval_v1:
    input:
        model=lambda wc: final_model_dir(wc.pair, wc.alpha),
        data=suite_data_inputs(config, "v1"),
    output:
        result_files("{pair}_alpha{alpha}", "v1"),
    log:
        "logs/lmeval/v1/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/lmeval/v1/{pair}_alpha{alpha}.tsv"
    conda:
        LMEVAL_ENV
    params:
        suite="v1",
        out=lambda wc: f"results_lmeval/{wc.pair}_alpha{wc.alpha}",
        args=lambda wc: lmeval_cli_args(config, wc.pair)
        + " "
        + tensor_parallel_args(config, "lmeval", wc.pair),
    shell:
        isolated(LMEVAL_ENV)
        + "expo lmeval --model {input.model:q} --out {params.out:q} --suite {params.suite}"
        " {params.args} > {log:q} 2>&1"


use rule lmeval_v1 as lmeval_v2 with:
    input:
        model=lambda wc: final_model_dir(wc.pair, wc.alpha),
        data=suite_data_inputs(config, "v2"),
    output:
        result_files("{pair}_alpha{alpha}", "v2"),
    log:
        "logs/lmeval/v2/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/lmeval/v2/{pair}_alpha{alpha}.tsv"
    params:
        suite="v2",
        out=lambda wc: f"results_lmeval/{wc.pair}_alpha{wc.alpha}",
        args=lambda wc: lmeval_cli_args(config, wc.pair)
        + " "
        + tensor_parallel_args(config, "lmeval", wc.pair),


use rule lmeval_v1 as lmeval_local with:
    input:
        model=lambda wc: final_model_dir(wc.pair, wc.alpha),
        data=suite_data_inputs(config, "local"),
    output:
        result_files("{pair}_alpha{alpha}", "local"),
    log:
        "logs/lmeval/local/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/lmeval/local/{pair}_alpha{alpha}.tsv"
    params:
        suite="local",
        out=lambda wc: f"results_lmeval/{wc.pair}_alpha{wc.alpha}",
        args=lambda wc: lmeval_cli_args(config, wc.pair)
        + " "
        + tensor_parallel_args(config, "lmeval", wc.pair),
