"""MT-Bench (FastChat llm_judge single-answer grading): data, answer generation, judging and scores.

FastChat 0.2.36's judging logic is reimplemented against a modern OpenAI-compatible HTTP API (see
``run_judge``'s docstring for why); tests prove prompt, request, score parse and records match FastChat's.
Stages: ``answers.run(AnswerRequest)`` and ``run_judge.run(JudgeRequest)`` (requests and the judge's
defaults in ``requests``; the judge client is the shared ``expo.benchmarks.judge_client``).

Submodules are imported on use (the DAG imports ``workflow_args`` at parse time and must stay light).
"""

__all__ = ["mt_bench_scores", "read_judgments"]


def __getattr__(name):
    if name in __all__:
        from expo.benchmarks.mt_bench import scores

        return getattr(scores, name)
    raise AttributeError(name)
