"""``expo mt-bench-judge``: FastChat single-answer grading of MT-Bench answers by an OpenAI-compatible judge."""

from __future__ import annotations

import argparse

from expo.benchmarks.mt_bench.requests import JudgeRequest, MtBenchJudge
from expo.commands._flags import add_judge_arguments, judge_from_args, request_from_args

NAME = "mt-bench-judge"
HELP = "judge MT-Bench answers (FastChat llm_judge single grading) with an OpenAI-compatible judge, resumable"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--answers", nargs="+", required=True, help="answer files model_answer/<model>.jsonl")
    parser.add_argument("--questions", required=True, help="MT-Bench question.jsonl")
    parser.add_argument("--judge-prompts", required=True, help="FastChat judge_prompts.jsonl")
    parser.add_argument(
        "--reference", help="reference_answer/<judge>.jsonl (needed for math/reasoning/coding)"
    )
    parser.add_argument("--out", required=True, help="judgment file (FastChat single-mode JSONL)")
    add_judge_arguments(parser, MtBenchJudge, JudgeRequest)


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.mt_bench.run_judge import run as judge

    judge(request_from_args(JudgeRequest, args, judge=judge_from_args(args, MtBenchJudge)))
    return 0
