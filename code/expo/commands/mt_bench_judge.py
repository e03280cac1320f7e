"""``expo mt-bench-judge``: FastChat single-answer grading of MT-Bench answers by an OpenAI-compatible judge."""

from __future__ import annotations

import argparse
import os

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
    parser.add_argument("--judge-model", default="gpt-4", help="model name sent to the judge (default gpt-4)")
    parser.add_argument(
        "--judge-base-url",
        default=os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1"),
        help="OpenAI-compatible base URL (default $OPENAI_BASE_URL or https://api.openai.com/v1)",
    )
    parser.add_argument(
        "--api-key-env", default="OPENAI_API_KEY", help="environment variable holding the key"
    )
    parser.add_argument(
        "--max-failed-fraction",
        type=float,
        default=0.0,
        help="allowed share of judgments without a score (-1)",
    )
    parser.add_argument("--parallel", type=int, default=1, help="concurrent judge requests")
    parser.add_argument("--max-retries", type=int, default=16, help="tries per request (FastChat: 16)")
    parser.add_argument(
        "--retry-sleep", type=float, default=10.0, help="seconds between tries (FastChat: 10)"
    )


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.mt_bench.run_judge import judge_answers

    judge_answers(
        answers=args.answers,
        questions_file=args.questions,
        judge_prompts_file=args.judge_prompts,
        reference_file=args.reference,
        out=args.out,
        judge_model=args.judge_model,
        base_url=args.judge_base_url,
        api_key_env=args.api_key_env,
        max_failed_fraction=args.max_failed_fraction,
        parallel=args.parallel,
        max_retries=args.max_retries,
        retry_sleep=args.retry_sleep,
    )
    return 0
