"""What `snakemake` builds by default: every stage's results for every pair, then the tables."""

# Judge-based stages say up front, in one line each, when they are left out.
alpaca_eval_enabled()
mt_bench_enabled()


def benchmark_result_files(model):
    """Result files of one benchmark model (alpha 0.0 or the chosen alpha) across the enabled stages."""
    files = [f"outputs_alpaca/{model}.json", f"rewards_alpaca/{model}.jsonl"]
    if alpaca_eval_enabled():
        files += alpaca_eval_result_files(model)
    if mt_bench_enabled():  # the tables read the merged judgments of all models
        files += list(aggregate_files(config).values())
    files += [f for suite in enabled_suites(config) for f in result_files(model, suite)]
    return files


def selection_targets():
    """Every pair's alpha sweep up to its selection and plot: known before any checkpoint has run."""
    return [
        f for pair in PAIRS for f in (f"selection/{pair}.json", f"selection/{pair}.png")
    ]


def benchmark_targets(wildcards):
    """Benchmark results of each pair's chosen models and the paper tables (needs the selection checkpoints;
    until they ran, Snakemake schedules the sweeps and evaluates this again)."""
    targets = []
    for pair in PAIRS:
        for model in benchmark_models(pair):
            targets += benchmark_result_files(model)
    if mt_bench_enabled():
        targets += mt_bench_targets()
    return targets + rules.tables.output
