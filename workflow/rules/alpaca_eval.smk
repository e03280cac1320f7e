"""AlpacaEval 2.0 (official alpaca_eval, weighted GPT-4-Turbo annotator) for each benchmark model.

The stage joins the DAG only when ``alpaca_eval_enabled()`` (common.smk) is true; it prints one line saying
why it is left out otherwise. The judge is called over HTTP from the alpaca_eval job itself (a compute job).

Outputs per model id {pair}_alpha{alpha} (the authors' results_alpaca/ layout):
    results_alpaca/{pair}_alpha{alpha}.json                   the outputs, generator = model id
    results_alpaca/{pair}_alpha{alpha}/annotations.json       alpaca_eval annotations
    results_alpaca/{pair}_alpha{alpha}/leaderboard.csv        win rate, LC (or why not), counts, failures
The judge journal (resources/alpaca_eval_cache/<judge>/judgments.jsonl) is shared by all jobs of a judge and
never an output: deleting results never costs a judgment again.
"""

import os

from expo.benchmarks.alpaca_eval.workflow_args import alpaca_eval_cli_args
from expo.judge_server.workflow_args import served_flags, served_inputs, server_prefix


localrules:
    fetch_alpaca_eval,


rule fetch_alpaca_eval:
    output:
        "resources/alpaca_eval/{resource}",
    log:
        "logs/fetch_alpaca_eval/{resource}.log",
    wildcard_constraints:
        resource="alpaca_eval_gpt4_baseline\\.json|df_gamed\\.csv",
    conda:
        "../../envs/alpaca_eval.yaml"
    params:
        what=lambda wc: "reference" if wc.resource.endswith(".json") else "df_gamed",
    shell:
        "expo fetch-alpaca-eval --what {params.what} --out {output:q} > {log:q} 2>&1"


rule alpaca_eval:
    input:
        outputs="outputs_alpaca/{pair}_alpha{alpha}.json",
        reference=resource_path(config, "reference"),
        df_gamed=alpaca_eval_df_gamed,
        judge_model=served_inputs(config),
    output:
        outputs="results_alpaca/{pair}_alpha{alpha}.json",
        annotations="results_alpaca/{pair}_alpha{alpha}/annotations.json",
        leaderboard="results_alpaca/{pair}_alpha{alpha}/leaderboard.csv",
    log:
        "logs/alpaca_eval/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/alpaca_eval/{pair}_alpha{alpha}.tsv"
    conda:
        "../../envs/alpaca_eval.yaml"
    params:
        args=alpaca_eval_cli_args(config),
        out=lambda wc, output: os.path.dirname(output.leaderboard),
    shell:
        isolated("alpaca_eval.yaml")
        + server_prefix(config, "alpaca_eval")
        + "expo alpaca-eval --model-outputs {input.outputs:q} --reference {input.reference:q}"
        " --name {wildcards.pair}_alpha{wildcards.alpha} --out {params.out:q}"
        " --outputs-copy {output.outputs:q} {params.args} "
        + served_flags(config)
        + " > {log:q} 2>&1"
