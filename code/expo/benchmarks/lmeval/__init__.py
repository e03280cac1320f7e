"""lm-eval (lm-evaluation-harness 0.4.13) stage: Open LLM Leaderboard v1/v2 suites and a packaged local task.

``run(LmevalRequest(...))`` runs the ``lm_eval`` CLI per invocation and writes one
``results_lmeval/<model>/<task>.json`` per benchmark task; ``suite_tasks(suite)`` lists those tasks.
"""

from expo.benchmarks.lmeval.runner import LmevalRequest, run
from expo.benchmarks.lmeval.suites import SUITES, suite_tasks

__all__ = ["SUITES", "LmevalRequest", "run", "suite_tasks"]
