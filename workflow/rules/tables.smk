"""Tables: the paper's tables (CSV / Markdown / LaTeX), plots and provenance from every benchmark's results.

``tables_inputs`` (common.smk) asks for each pair's selection (none in published mode) and each benchmark
model's result files, so the tables rebuild when any of them changes. The tables read the results root of this
config only (Snakefile ``workdir:``), so another config's pairs never appear.
"""

from expo.tables.notes import note_cli_args

TABLE_NAMES = [
    "alpaca_eval",
    "mt_bench",
    "open_llm",
    "open_llm_v2",
    "lmeval",
    "rewards_alpaca",
    "paper_pairs",
    "paper_controlled",
    "reward_per_alpha",
    "provenance",
]
TABLES_DIR = config.get("tables", {}).get("out", "tables")


localrules:
    tables,


rule tables:
    input:
        results=tables_inputs,
        published=f"{REPO_DIR}/config/published.yaml",
    output:
        csv=[
            report(
                f"{TABLES_DIR}/{name}.csv",
                caption=f"../report/{name}.rst",
                category="tables",
            )
            for name in TABLE_NAMES
        ],
        text=expand(
            "{out}/{name}.{ext}", out=TABLES_DIR, name=TABLE_NAMES, ext=["md", "tex"]
        ),
        gain_plot=report(
            f"{TABLES_DIR}/expo_gain.png",
            caption="../report/expo_gain.rst",
            category="plots",
        ),
        reward_plot=report(
            f"{TABLES_DIR}/reward_vs_alpha.png",
            caption="../report/reward_vs_alpha.rst",
            category="plots",
        ),
    log:
        "logs/tables.log",
    conda:
        "../../envs/alpaca_eval.yaml"
    params:
        out=lambda wildcards, output: os.path.dirname(output.gain_plot),
        notes=note_cli_args(config),
    shell:
        "expo tables --from . --out {params.out:q} --published {input.published:q}"
        " --selection-dir selection {params.notes} > {log:q} 2>&1"
