"""MT-Bench (FastChat llm_judge single-answer grading): data, answer generation, judging and scores.

FastChat 0.2.36's judging logic is reimplemented against a modern OpenAI-compatible HTTP API (see
``run_judge``'s docstring for why); tests prove prompt, request, score parse and records match FastChat's.
"""

from expo.benchmarks.mt_bench.scores import mt_bench_scores, read_judgments

__all__ = ["mt_bench_scores", "read_judgments"]
