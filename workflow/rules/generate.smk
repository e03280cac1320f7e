"""Generation keyed by (pair, alpha): the UltraFeedback sweep (every alpha + 0.0) and AlpacaEval outputs
(alpha 0.0 and the chosen alpha). Backend and sampling come from the config's `generation:` section.
"""

from expo.generation.workflow_args import (
    PROMPT_FILES,
    generate_cli_args,
    generation_settings,
)

GENERATE_ENV = (
    "../../envs/generate.yaml"
    if generation_settings(config)["backend"] == "vllm"
    else "../../envs/core.yaml"
)
# vLLM (torch 2.14 pins) runs in its own environment unless the installed one already has it.
GENERATE_RUN = isolated(GENERATE_ENV) if GENERATE_ENV.endswith("generate.yaml") else ""


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
        args=lambda wc: generate_cli_args(config, wc.pair),
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
