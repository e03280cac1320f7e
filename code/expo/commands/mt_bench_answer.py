"""``expo mt-bench-answer``: answer the MT-Bench questions (2 turns) in FastChat's model_answer format."""

from __future__ import annotations

import argparse

from expo.benchmarks.mt_bench.requests import AnswerRequest
from expo.commands._flags import add_model_arguments, add_seed_and_length_arguments

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

    answer(
        AnswerRequest(
            model=args.model,
            questions=args.questions,
            out=args.out,
            model_id=args.model_id,
            backend=args.backend,
            max_new_tokens=args.max_new_tokens,
            seed=args.seed,
            batch_size=args.batch_size,
            trust_remote_code=args.trust_remote_code,
            chat_template=args.chat_template,
            stop_token_ids=tuple(args.stop_token_ids or ()),
            tensor_parallel_size=args.tensor_parallel_size,
        )
    )
    return 0
