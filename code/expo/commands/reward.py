"""``expo reward``: raw reward-model scores for an outputs file, one float per line in output order."""

from __future__ import annotations

import argparse

NAME = "reward"
HELP = "score generated outputs with a reward model (raw logit, one float per line)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rm", required=True, help="reward model directory (sequence classifier, 1 label)")
    parser.add_argument(
        "--outputs", required=True, help="outputs file: UltraFeedback JSONL or AlpacaEval JSON"
    )
    parser.add_argument("--out", required=True, help="rewards file (one float per line)")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument(
        "--dtype", choices=["auto", "bf16", "fp32"], default="auto", help="auto: bf16 on GPU, fp32 on CPU"
    )
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument(
        "--verify",
        type=int,
        default=0,
        metavar="N",
        help="check the first N scores against batch-1 forward passes",
    )


def run(args: argparse.Namespace) -> int:
    from expo.reward.run import score_outputs_file

    score_outputs_file(
        args.rm, args.outputs, args.out, args.batch_size, args.dtype, args.trust_remote_code, args.verify
    )
    return 0
