"""``expo reward``: raw reward-model scores for an outputs file, one float per line in output order."""

from __future__ import annotations

import argparse

from expo.commands._flags import add_field_flag, request_from_args
from expo.reward.run import RewardRequest

NAME = "reward"
HELP = "score generated outputs with a reward model (raw logit, one float per line)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rm", required=True, help="reward model directory (sequence classifier, 1 label)")
    parser.add_argument(
        "--outputs",
        required=True,
        nargs="+",
        help="outputs file(s): UltraFeedback JSONL or AlpacaEval JSON (several: the model is loaded once)",
    )
    parser.add_argument(
        "--out", required=True, nargs="+", help="rewards file(s), one float per line; one per --outputs file"
    )
    add_field_flag(parser, RewardRequest, "--batch-size", "outputs per forward pass", type=int)
    add_field_flag(
        parser, RewardRequest, "--dtype", "auto: bf16 on GPU, fp32 on CPU", choices=["auto", "bf16", "fp32"]
    )
    parser.add_argument("--trust-remote-code", action="store_true")
    add_field_flag(
        parser,
        RewardRequest,
        "--verify",
        "check the first N scores against batch-1 forward passes",
        type=int,
        metavar="N",
    )


def run(args: argparse.Namespace) -> int:
    from expo.reward.run import run as score

    score(request_from_args(RewardRequest, args))
    return 0
