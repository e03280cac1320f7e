"""Prompt sets (localrules: they reach the hub): UltraFeedback test_gen and the AlpacaEval 805, or local files.

Outputs: resources/prompts/ultrafeedback.jsonl ({"prompt"} lines), resources/prompts/alpaca_eval.json (list of
{"instruction", "dataset"}); the config's `prompts:` section picks hub or a local file and an optional limit.
"""

from expo.generation.workflow_args import fetch_prompts_cli_args, prompt_source


localrules:
    fetch_prompts,


def prompt_set_of(wildcards):
    return wildcards.prompt_file.split(".")[0]


def prompt_source_input(wildcards):
    """A local source file is an input (edits rerun the rule); the hub is not a file."""
    source = prompt_source(config, prompt_set_of(wildcards))["source"]
    return [] if source == "hub" else [source]


rule fetch_prompts:
    input:
        prompt_source_input,
    output:
        "resources/prompts/{prompt_file}",
    log:
        "logs/fetch_prompts/{prompt_file}.log",
    wildcard_constraints:
        prompt_file=r"ultrafeedback\.jsonl|alpaca_eval\.json",
    conda:
        "../../envs/core.yaml"
    params:
        prompt_set=prompt_set_of,
        args=lambda wc: fetch_prompts_cli_args(config, prompt_set_of(wc)),
    shell:
        "expo fetch-prompts --set {params.prompt_set} --out {output:q} {params.args} > {log:q} 2>&1"
