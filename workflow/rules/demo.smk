"""The embedded CPU demo: build the tiny SFT/aligned pair, reward model and prompt sets offline."""

DEMO_OUT = config["demo"]["out"]


localrules:
    demo_models,


rule demo_models:
    output:
        sft=directory(f"{DEMO_OUT}/sft"),
        aligned=directory(f"{DEMO_OUT}/aligned"),
        reward=directory(f"{DEMO_OUT}/reward"),
        prompts_ultrafeedback=f"{DEMO_OUT}/prompts_ultrafeedback.jsonl",
        prompts_alpaca=f"{DEMO_OUT}/prompts_alpaca.json",
    log:
        "logs/demo_models.log",
    conda:
        "../../envs/core.yaml"
    params:
        seed=config["demo"].get("seed", 0),
    shell:
        "expo demo-models --out $(dirname {output.sft:q}) --seed {params.seed} --force > {log:q} 2>&1"
