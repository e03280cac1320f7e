"""Prompt sets (localrules: they reach the hub): UltraFeedback test_gen and the AlpacaEval 805, or local files.

Outputs: resources/prompts/ultrafeedback.jsonl ({"prompt"} lines), resources/prompts/alpaca_eval.json (list of
{"instruction", "dataset"}); the config's `prompts:` section picks hub or a local file and an optional limit.
"""

from expo.generation.workflow_args import fetch_prompts_cli_args, prompt_source


localrules:
    fetch_prompts,


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
