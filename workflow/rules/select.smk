"""Alpha selection per pair (a checkpoint): the DAG after it depends on the chosen alpha.

Input functions for later stages:
- chosen_alpha(pair): canonical alpha string, or None when no alpha beats the aligned model (ExPO not applied);
- benchmark_models(pair): model ids to benchmark: alpha 0.0 and the chosen alpha (when there is one).
"""

from expo.naming import model_id
from expo.selection.stats import read_chosen_alpha


def _sweep_files(folder, ext):
    def files(wildcards):
        return {
            a: f"{folder}/{model_id(wildcards.pair, a)}.{ext}"
            for a in ["0.0"] + sweep_alphas(config, wildcards.pair)
        }

    return files


def _alpha_file_args(folder, ext):
    def args(wildcards):
        return " ".join(
            f"{a}={path}" for a, path in _sweep_files(folder, ext)(wildcards).items()
        )

    return args


checkpoint select_alpha:
    input:
        rewards=lambda wc: list(
            _sweep_files("rewards_ultrafeedback", "jsonl")(wc).values()
        ),
        outputs=lambda wc: list(
            _sweep_files("outputs_ultrafeedback", "jsonl")(wc).values()
        ),
    output:
        "selection/{pair}.json",
        report("selection/{pair}.png", category="alpha selection"),
    log:
        "logs/select_alpha/{pair}.log",
    conda:
        "../../envs/core.yaml"
    params:
        rewards=_alpha_file_args("rewards_ultrafeedback", "jsonl"),
        outputs=_alpha_file_args("outputs_ultrafeedback", "jsonl"),
        mode=config.get("alpha_selection", "sweep"),
        published=lambda wc: pair_cfg(wc.pair)["alpha"],
    shell:
        "expo select-alpha --pair {wildcards.pair} --rewards {params.rewards} --outputs {params.outputs}"
        " --mode {params.mode} --published-alpha {params.published}"
        " --out {output[0]:q} --plot {output[1]:q} > {log:q} 2>&1"


def chosen_alpha(pair):
    """The pair's chosen alpha (canonical string) or None; triggers the select_alpha checkpoint."""
    return read_chosen_alpha(checkpoints.select_alpha.get(pair=pair).output[0])


def benchmark_models(pair):
    """Model ids the benchmarks run on: the aligned model (alpha 0.0) and the chosen extrapolation."""
    chosen = chosen_alpha(pair)
    return [model_id(pair, "0.0")] + (
        [model_id(pair, chosen)] if chosen is not None else []
    )
