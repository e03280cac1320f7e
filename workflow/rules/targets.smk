"""What `snakemake` builds by default: every stage's results for every pair, then the tables."""

# Judge-based stages say up front, in one line each, when they are left out.
alpaca_eval_enabled()
mt_bench_enabled()


def benchmark_targets(wildcards):
    """Benchmark results of each pair's chosen models and the paper tables (needs the selection checkpoints;
    until they ran, Snakemake schedules the sweeps and evaluates this again; published mode: no checkpoint).
    """
    targets = []
    for pair in PAIRS:
        for model in benchmark_models(pair):
            targets += benchmark_result_files(model)
    if mt_bench_enabled():
        targets += mt_bench_targets()
    return targets + rules.tables.output
