"""Reward scoring of every outputs file with the configured reward model (config `reward:` section)."""

from expo.generation.workflow_args import reward_cli_args


rule reward_ultrafeedback:
    input:
        rm=reward_model_dir,
        outputs="outputs_ultrafeedback/{pair}_alpha{alpha}.jsonl",
    output:
        "rewards_ultrafeedback/{pair}_alpha{alpha}.jsonl",
    log:
        "logs/reward/ultrafeedback/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/reward/ultrafeedback/{pair}_alpha{alpha}.tsv"
    conda:
        "../../envs/core.yaml"
    params:
        args=reward_cli_args(config),
    shell:
        "expo reward --rm {input.rm:q} --outputs {input.outputs:q} --out {output:q} {params.args}"
        " > {log:q} 2>&1"


use rule reward_ultrafeedback as reward_alpaca with:
    input:
        rm=reward_model_dir,
        outputs="outputs_alpaca/{pair}_alpha{alpha}.json",
    output:
        "rewards_alpaca/{pair}_alpha{alpha}.jsonl",
    log:
        "logs/reward/alpaca/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/reward/alpaca/{pair}_alpha{alpha}.tsv"
