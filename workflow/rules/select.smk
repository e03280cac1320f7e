"""Alpha selection per pair (a checkpoint): the DAG after it depends on the chosen alpha.

Input functions for later stages:
- chosen_alpha(pair): canonical alpha string, or None when no alpha beats the aligned model (ExPO not applied);
- benchmark_models(pair): model ids to benchmark: alpha 0.0 and the chosen alpha (when there is one).
"""

from expo.naming import model_id
from expo.selection.stats import read_chosen_alpha


localrules:
    select_alpha,


checkpoint select_alpha:
    input:
        rewards=lambda wc: list(
            _sweep_files("rewards_ultrafeedback", "jsonl")(wc).values()
        ),
        outputs=lambda wc: list(
            _sweep_files("outputs_ultrafeedback", "jsonl")(wc).values()
        ),
    output:
        selection="selection/{pair}.json",
        plot=report(
            "selection/{pair}.png",
            caption="../report/selection.rst",
            category="alpha selection",
        ),
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
        " --out {output.selection:q} --plot {output.plot:q} > {log:q} 2>&1"
