"""lm-eval 0.4.13 (Open LLM Leaderboard v1 / v2, local smoke task) for each benchmark model.

Included by the Snakefile after common.smk and select.smk; targets.smk asks for each benchmark model's
results (``benchmark_result_files``, evaluated after the selection checkpoint).

Outputs per model id {pair}_alpha{alpha}: results_lmeval/{pair}_alpha{alpha}/<task>.json (one per benchmark
task of the suite), with lm-eval's raw output kept under results_lmeval/{pair}_alpha{alpha}/raw/.
Suites are switched in config `lmeval.suites`; backend vllm (GPU) or hf (CPU/GPU).
"""

import os

from expo.benchmarks.lmeval.workflow_args import (
    enabled_suites,
    lmeval_cli_args,
    result_files,
    settings as lmeval_settings,
)

LMEVAL_ENV = (
    "../../envs/lmeval_vllm.yaml"
    if lmeval_settings(config)["backend"] == "vllm"
    else "../../envs/lmeval.yaml"
)


rule lmeval_v1:
    input:
        model=lambda wc: final_model_dir(wc.pair, wc.alpha),
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
        args=lambda wc: lmeval_cli_args(config, wc.pair),
    shell:
        isolated(LMEVAL_ENV)
        + "expo lmeval --model {input.model:q} --out {params.out:q} --suite {params.suite}"
        " {params.args} > {log:q} 2>&1"


use rule lmeval_v1 as lmeval_v2 with:
    output:
        result_files("{pair}_alpha{alpha}", "v2"),
    log:
        "logs/lmeval/v2/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/lmeval/v2/{pair}_alpha{alpha}.tsv"
    params:
        suite="v2",
        out=lambda wc: f"results_lmeval/{wc.pair}_alpha{wc.alpha}",
        args=lambda wc: lmeval_cli_args(config, wc.pair),


use rule lmeval_v1 as lmeval_local with:
    output:
        result_files("{pair}_alpha{alpha}", "local"),
    log:
        "logs/lmeval/local/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/lmeval/local/{pair}_alpha{alpha}.tsv"
    params:
        suite="local",
        out=lambda wc: f"results_lmeval/{wc.pair}_alpha{wc.alpha}",
        args=lambda wc: lmeval_cli_args(config, wc.pair),
