"""Generation keyed by (pair, alpha): the UltraFeedback sweep (every alpha + 0.0) and AlpacaEval outputs
(alpha 0.0 and the chosen alpha). Backend and sampling come from the config's `generation:` section.
"""

from expo.cluster import tensor_parallel_args
from expo.generation.workflow_args import PROMPT_FILES, generate_cli_args

GENERATE_ENV = stage_env(config, "generate")
# vLLM (torch 2.14 pins) runs in its own environment unless the installed one already has it.
GENERATE_RUN = stage_shell_prefix("generate")


rule generate_ultrafeedback:
    input:
        model=lambda wc: sweep_model_dir(wc.pair, wc.alpha),
        prompts=PROMPT_FILES["ultrafeedback"],
    output:
        "outputs_ultrafeedback/{pair}_alpha{alpha}.jsonl",
    log:
        "logs/generate/ultrafeedback/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/generate/ultrafeedback/{pair}_alpha{alpha}.tsv"
    conda:
        GENERATE_ENV
    params:
        args=lambda wc: generate_cli_args(config, wc.pair)
        + " "
        + tensor_parallel_args(config, "generate", wc.pair),
    shell:
        GENERATE_RUN
        + "expo generate --model {input.model:q} --prompts {input.prompts:q} --out {output:q}"
        " --generator {wildcards.pair}_alpha{wildcards.alpha} {params.args} > {log:q} 2>&1"


use rule generate_ultrafeedback as generate_alpaca with:
    input:
        model=lambda wc: final_model_dir(wc.pair, wc.alpha),
        prompts=PROMPT_FILES["alpaca_eval"],
    output:
        "outputs_alpaca/{pair}_alpha{alpha}.json",
    log:
        "logs/generate/alpaca/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/generate/alpaca/{pair}_alpha{alpha}.tsv"
