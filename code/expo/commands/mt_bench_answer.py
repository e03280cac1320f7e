"""``expo mt-bench-answer``: answer the MT-Bench questions (2 turns) in FastChat's model_answer format."""

from __future__ import annotations

import argparse

from expo.benchmarks.mt_bench.requests import AnswerRequest
from expo.commands._flags import add_model_arguments, add_seed_and_length_arguments, request_from_args

NAME = "mt-bench-answer"
HELP = "generate MT-Bench answers (FastChat format, per-category temperatures) with the model's chat template"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, AnswerRequest)
    parser.add_argument("--questions", required=True, help="MT-Bench question.jsonl")
    parser.add_argument("--out", required=True, help="answer file model_answer/<model-id>.jsonl")
    parser.add_argument("--model-id", required=True, help="model_id written in each record (the file stem)")
    add_seed_and_length_arguments(parser, AnswerRequest)


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.mt_bench.answers import run as answer

    answer(request_from_args(AnswerRequest, args, stop_token_ids=tuple(args.stop_token_ids or ())))
    return 0
