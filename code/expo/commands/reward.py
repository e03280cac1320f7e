"""``expo reward``: raw reward-model scores for an outputs file, one float per line in output order."""

from __future__ import annotations

import argparse

from expo.commands._flags import field_default
from expo.reward.run import RewardRequest

NAME = "reward"
HELP = "score generated outputs with a reward model (raw logit, one float per line)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rm", required=True, help="reward model directory (sequence classifier, 1 label)")
    parser.add_argument(
        "--outputs", required=True, help="outputs file: UltraFeedback JSONL or AlpacaEval JSON"
    )
    parser.add_argument("--out", required=True, help="rewards file (one float per line)")
    parser.add_argument("--batch-size", type=int, default=field_default(RewardRequest, "batch_size"))
    parser.add_argument(
        "--dtype",
        choices=["auto", "bf16", "fp32"],
        default=field_default(RewardRequest, "dtype"),
        help="auto: bf16 on GPU, fp32 on CPU",
    )
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument(
        "--verify",
        type=int,
        default=field_default(RewardRequest, "verify"),
        metavar="N",
        help="check the first N scores against batch-1 forward passes",
    )


def run(args: argparse.Namespace) -> int:
    from expo.reward.run import run as score

    score(
        RewardRequest(
            rm=args.rm,
            outputs=args.outputs,
            out=args.out,
            batch_size=args.batch_size,
            dtype=args.dtype,
            trust_remote_code=args.trust_remote_code,
            verify=args.verify,
        )
    )
    return 0
