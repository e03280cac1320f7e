"""Models: hub downloads (localrule) and ExPO extrapolation keyed by (pair, alpha)."""


localrules:
    download_model,


rule download_model:
    output:
        directory(f"{MODELS_DIR}/{{download}}"),
    log:
        "logs/download_model/{download}.log",
    conda:
        "../../envs/core.yaml"
    params:
        repo_id=lambda wc: download_ref(wc).hub_id,
        revision=lambda wc: download_ref(wc).revision or "main",
    shell:
        "expo download-model --repo-id {params.repo_id:q} --revision {params.revision:q}"
        " --out {output:q} > {log:q} 2>&1"


rule extrapolate_sweep:
    input:
        sft=sft_dir,
        aligned=aligned_dir,
    output:
        temp(directory("models/sweep/{pair}_alpha{alpha}")),
    log:
        "logs/extrapolate/sweep/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/extrapolate/sweep/{pair}_alpha{alpha}.tsv"
    conda:
        "../../envs/core.yaml"
    params:
        precision=config["precision"],
    shell:
        "expo extrapolate --sft {input.sft:q} --aligned {input.aligned:q} --alpha {wildcards.alpha}"
        " --precision {params.precision} --out {output:q} --force > {log:q} 2>&1"


use rule extrapolate_sweep as extrapolate with:
    output:
        directory("models/{pair}_alpha{alpha}"),
    log:
        "logs/extrapolate/{pair}_alpha{alpha}.log",
    benchmark:
        "benchmarks_out/extrapolate/{pair}_alpha{alpha}.tsv"
