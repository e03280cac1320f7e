"""Tables: the paper's tables (CSV / Markdown / LaTeX), plots and provenance from every benchmark's results.

Not included by the Snakefile yet: the lead wires it (and marks the outputs with report()). ``tables_inputs``
asks for each pair's selection and, when the DAG defines ``benchmark_result_files(model_id)`` (common.smk),
each benchmark model's result files, so the tables rebuild when any of them changes.
"""

TABLE_NAMES = [
    "alpaca_eval",
    "mt_bench",
    "open_llm",
    "open_llm_v2",
    "paper_pairs",
    "paper_controlled",
    "reward_per_alpha",
    "provenance",
]
TABLES_DIR = config.get("tables", {}).get("out", "tables")


def tables_inputs(wildcards):
    files = [f"selection/{pair}.json" for pair in PAIRS]
    result_files = globals().get("benchmark_result_files")
    if result_files is not None:
        for pair in PAIRS:
            for mid in benchmark_models(pair):
                files += result_files(mid)
    return files


rule tables:
    input:
        results=tables_inputs,
        published=f"{REPO_DIR}/config/published.yaml",
    output:
        tables=expand(
            "{out}/{name}.{ext}",
            out=TABLES_DIR,
            name=TABLE_NAMES,
            ext=["csv", "md", "tex"],
        ),
        gain_plot=f"{TABLES_DIR}/expo_gain.png",
        reward_plot=f"{TABLES_DIR}/reward_vs_alpha.png",
    log:
        "logs/tables.log",
    conda:
        "../../envs/alpaca_eval.yaml"
    params:
        out=TABLES_DIR,
    shell:
        "expo tables --from . --out {params.out:q} --published {input.published:q}"
        " --selection-dir selection > {log:q} 2>&1"
