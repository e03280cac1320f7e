"""The embedded CPU demo: build the tiny SFT/aligned pair, reward model and prompt sets offline."""

DEMO_OUT = config["demo"]["out"]


localrules:
    demo_models,


rule demo_models:
    output:
        directory(f"{DEMO_OUT}/sft"),
        directory(f"{DEMO_OUT}/aligned"),
        directory(f"{DEMO_OUT}/reward"),
        f"{DEMO_OUT}/prompts_ultrafeedback.jsonl",
        f"{DEMO_OUT}/prompts_alpaca.json",
    log:
        "logs/demo_models.log",
    conda:
        "../../envs/core.yaml"
    params:
        out=DEMO_OUT,
        seed=config["demo"].get("seed", 0),
    shell:
        "expo demo-models --out {params.out:q} --seed {params.seed} --force > {log:q} 2>&1"
