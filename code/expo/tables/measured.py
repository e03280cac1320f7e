"""Tables of what the pipeline measured that the paper tables do not show: every lm-eval metric per model and
task (the demo's local task, any suite), and the mean reward on the AlpacaEval prompts per model."""

from __future__ import annotations

from pathlib import Path

from expo.io.records import read_floats
from expo.selection.stats import alpha_stats
from expo.tables.lmeval_results import TaskResults
from expo.tables.published import Published

LMEVAL_COLUMNS = ["model", "task", "metric", "value", "stderr", "n_samples", "source"]
REWARDS_COLUMNS = ["model", "pair", "alpha", "n", "mean_reward", "reward_se", "source"]


def lmeval_table(results: list[TaskResults], root: Path) -> list[dict]:
    """One row per (model, task, metric): lm-eval 0.4 keys ``metric,filter`` (stderr from ``metric_stderr``)
    and the old harness' plain keys; non-metric entries (alias, name, sample_len) are skipped."""
    rows = []
    for res in results:
        for task in sorted(res.metrics):
            metrics = res.metrics[task]
            for key in sorted(metrics):
                value = metrics[key]
                name, comma, flt = key.partition(",")
                if name.endswith("_stderr") or isinstance(value, bool) or not isinstance(value, int | float):
                    continue
                if not comma and res.formats.get(task) == "lm-eval-0.4":
                    continue  # sample_len and other bookkeeping: 0.4 metrics carry a filter suffix
                stderr_key = f"{name}_stderr,{flt}" if flt else f"{name}_stderr"
                stderr = metrics.get(stderr_key)
                rows.append(
                    {
                        "model": res.model,
                        "task": task,
                        "metric": key,
                        "value": float(value),
                        "stderr": float(stderr) if isinstance(stderr, int | float) else None,
                        "n_samples": res.n_samples.get(task),
                        "source": str(Path(res.source[task]).relative_to(root))
                        if Path(res.source[task]).is_relative_to(root)
                        else str(res.source[task]),
                    }
                )
    return rows


def rewards_table(root: Path, published: Published) -> list[dict]:
    """Mean reward model score on the AlpacaEval prompts per model (``rewards_alpaca/<model>.jsonl``)."""
    base = Path(root) / "rewards_alpaca"
    rows = []
    for path in sorted(base.glob("*.jsonl")) if base.is_dir() else []:
        values = read_floats(path)
        if not values:
            continue
        stats = alpha_stats(values, [])
        pair, alpha = published.resolve(path.stem)
        rows.append(
            {
                "model": path.stem,
                "pair": pair,
                "alpha": alpha,
                "n": stats["n"],
                "mean_reward": stats["mean_reward"],
                "reward_se": stats["stderr"],
                "source": str(path.relative_to(root)),
            }
        )
    return rows
