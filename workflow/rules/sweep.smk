"""The in-engine alpha sweep (config `sweep: {mode: in_engine}`; default per_alpha leaves the DAG as it is).

Per pair, rule sweep_generate_<pair> makes the UltraFeedback outputs of alpha 0 and every swept alpha with ONE
vLLM engine whose weights are set in place to aligned + alpha * (aligned - sft) (`expo sweep`: no sweep
checkpoints, one engine start), and rule sweep_reward_<pair> scores all of them with ONE reward-model load.
They take precedence (ruleorder) over the per-alpha generate_ultrafeedback / reward_ultrafeedback rules for
those files; the chosen alpha is still extrapolated to a kept checkpoint by rule extrapolate for the benchmarks.
Rules are made per pair (their outputs are the pair's alpha list), so cluster resources are set here.
"""

import re

import expo.cluster
from expo.sweep.workflow import sweep_cli_args, sweep_mode

try:
    SWEEP_MODE = sweep_mode(config)
except ExpoError as exc:
    sys.exit(str(exc))


def _sweep_rule_suffix(pair):
    return re.sub(r"\W", "_", pair)


if SWEEP_MODE == "in_engine":
    for _pair in PAIRS:
        _alphas = sweep_alphas(config, _pair)
        _ids = sweep_model_ids(_pair)

        rule:
            name:
                f"sweep_generate_{_sweep_rule_suffix(_pair)}"
            input:
                sft=model_dir_of(pair_cfg(_pair)["sft"]),
                aligned=model_dir_of(pair_cfg(_pair)["aligned"]),
                prompts=PROMPT_FILES["ultrafeedback"],
            output:
                [f"outputs_ultrafeedback/{m}.jsonl" for m in _ids],
            log:
                f"logs/sweep/{_pair}.log",
            benchmark:
                f"benchmarks_out/sweep/{_pair}.tsv"
            conda:
                "../../envs/generate.yaml"
            resources:
                gpu=lambda wc, p=_pair: expo.cluster.gpus({"pair": p}),
                mem_mb=lambda wc, p=_pair: expo.cluster.mem_mb({"pair": p}),
                cpus_per_task=lambda wc, p=_pair: expo.cluster.cpus({"pair": p}),
                runtime=lambda wc, p=_pair, n=len(_ids): n
                * expo.cluster.runtime({"pair": p}, base=120),
            params:
                args=sweep_cli_args(config, _pair, _alphas),
            shell:
                isolated("../../envs/generate.yaml")
                + "expo sweep --sft {input.sft:q} --aligned {input.aligned:q} --prompts {input.prompts:q}"
                " --out-dir outputs_ultrafeedback {params.args} > {log:q} 2>&1"

        rule:
            name:
                f"sweep_reward_{_sweep_rule_suffix(_pair)}"
            input:
                rm=reward_model_dir(),
                outputs=[f"outputs_ultrafeedback/{m}.jsonl" for m in _ids],
            output:
                [f"rewards_ultrafeedback/{m}.jsonl" for m in _ids],
            log:
                f"logs/reward/ultrafeedback/sweep_{_pair}.log",
            benchmark:
                f"benchmarks_out/reward/ultrafeedback/sweep_{_pair}.tsv"
            conda:
                "../../envs/core.yaml"
            resources:
                gpu=lambda wc: expo.cluster.gpus({}, model="reward"),
                mem_mb=lambda wc: expo.cluster.mem_mb({}, model="reward"),
                cpus_per_task=lambda wc: expo.cluster.cpus({}, model="reward"),
                runtime=lambda wc, n=len(_ids): n
                * expo.cluster.runtime({}, model="reward", base=60),
            params:
                args=reward_cli_args(config),
            shell:
                "expo reward --rm {input.rm:q} --outputs {input.outputs:q} --out {output:q} {params.args}"
                " > {log:q} 2>&1"

        workflow.ruleorder(
            f"sweep_generate_{_sweep_rule_suffix(_pair)}", "generate_ultrafeedback"
        )
        workflow.ruleorder(
            f"sweep_reward_{_sweep_rule_suffix(_pair)}", "reward_ultrafeedback"
        )
