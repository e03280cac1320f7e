"""The embedded CPU demo: build the tiny SFT/aligned pair, reward model and prompt sets offline."""

DEMO_OUT = config["demo"]["out"]
# the demo judge (judge/, mt_bench/, alpaca_reference.json) is built when the config serves it
DEMO_JUDGE = (config.get("judge") or {}).get("serve") is not None and os.path.normpath(
    str(config["judge"]["serve"])
) == os.path.normpath(f"{DEMO_OUT}/judge")
DEMO_JUDGE_OUTPUTS = (
    {
        "judge": directory(f"{DEMO_OUT}/judge"),
        "mt_bench": directory(f"{DEMO_OUT}/mt_bench"),
        "alpaca_reference": f"{DEMO_OUT}/alpaca_reference.json",
    }
    if DEMO_JUDGE
    else {}
)


localrules:
    demo_models,


rule demo_models:
    output:
        **DEMO_JUDGE_OUTPUTS,
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
        judge="--judge" if DEMO_JUDGE else "--no-judge",
    shell:
        "expo demo-models --out $(dirname {output.sft:q}) --seed {params.seed} {params.judge}"
        " --force > {log:q} 2>&1"
