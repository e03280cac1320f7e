"""MT-Bench (FastChat llm_judge single-answer grading, GPT-4 judge) for each benchmark model.

The stage joins the DAG only when ``mt_bench_enabled()`` (common.smk) is true; it prints one line saying why
it is left out otherwise. Answers load the model (vLLM: tensor parallel = the job's GPUs); the judge is called
over HTTP from the mt_bench_judge jobs (compute jobs).

Files (FastChat's data/mt_bench layout under results_mtbench/mt_bench/):
    model_answer/{pair}_alpha{alpha}.jsonl                   answers (model's own chat template)
    model_judgment/<judge>_single/{pair}_alpha{alpha}.jsonl  that model's judgments (+ .journal.jsonl, resume)
    model_judgment/<judge>_single.jsonl                      all judgments, FastChat's file
    <judge>_scores.csv                                       turn1, turn2, score per model
"""

import os

from expo.benchmarks.mt_bench.workflow_args import (
    DATA_FILES,
    answer_cli_args,
    answer_file,
    fetch_cli_args,
    judge_cli_args,
    judgment_file,
)
from expo.cluster import tensor_parallel_args
from expo.judge_server.workflow_args import (
    local_data_input,
    served_flags,
    served_inputs,
    server_prefix,
)

MT_BENCH_ANSWER_ENV = stage_env(config, "mt_bench_answer")


localrules:
    fetch_mt_bench,
    mt_bench_scores,


rule fetch_mt_bench:
    input:
        local_data_input(config, "mt_bench"),
    output:
        **DATA_FILES,
    log:
        "logs/mt_bench/fetch.log",
    conda:
        "../../envs/mt_bench.yaml"
    params:
        args=fetch_cli_args(config),
        out=lambda wc, output: os.path.dirname(output.questions),
    shell:
        "expo fetch-mt-bench --out {params.out:q} {params.args} > {log:q} 2>&1"


rule mt_bench_answer:
    input:
        model=lambda wc: final_model_dir(wc.pair, wc.alpha),
        questions=DATA_FILES["questions"],
    output:
        answer_file("{pair}_alpha{alpha}"),
    log:
        "logs/mt_bench/answer/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/mt_bench/answer/{pair}_alpha{alpha}.tsv"
    conda:
        MT_BENCH_ANSWER_ENV
    params:
        args=lambda wc: answer_cli_args(config, wc.pair)
        + " "
        + tensor_parallel_args(config, "mt_bench_answer", wc.pair),
    shell:
        stage_shell_prefix("mt_bench_answer")
        + "expo mt-bench-answer --model {input.model:q} --questions {input.questions:q} --out {output:q}"
        " --model-id {wildcards.pair}_alpha{wildcards.alpha} {params.args} > {log:q} 2>&1"


rule mt_bench_judge:
    input:
        **DATA_FILES,
        answers=answer_file("{pair}_alpha{alpha}"),
        judge_model=served_inputs(config),
    output:
        judgment_file(config, "{pair}_alpha{alpha}"),
    log:
        "logs/mt_bench/judge/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/mt_bench/judge/{pair}_alpha{alpha}.tsv"
    conda:
        "../../envs/mt_bench.yaml"
    params:
        args=judge_cli_args(config),
        server=lambda wc: server_prefix(
            config,
            "mt_bench",
            log=f"logs/mt_bench/judge/{wc.pair}_alpha{wc.alpha}.log.server",
        ),
        served=served_flags(config),
    shell:
        "{params.server}expo mt-bench-judge --answers {input.answers:q} --questions {input.questions:q}"
        " --judge-prompts {input.judge_prompts:q} --reference {input.reference:q} --out {output:q}"
        " {params.args} {params.served} > {log:q} 2>&1"


rule mt_bench_scores:
    input:
        lambda wc: [judgment_file(config, m) for m in mt_bench_models()],
    output:
        **aggregate_files(config),
    log:
        "logs/mt_bench/scores.log",
    conda:
        "../../envs/mt_bench.yaml"
    shell:
        "expo mt-bench-score --judgments {input:q} --merged {output.judgments:q} --out {output.scores:q}"
        " > {log:q} 2>&1"
