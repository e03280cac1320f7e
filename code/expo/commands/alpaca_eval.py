"""`expo alpaca-eval`: official AlpacaEval 2.0 (weighted GPT-4-Turbo annotator) for one model's outputs."""

from __future__ import annotations

import argparse

from expo.benchmarks.alpaca_eval.judge import AlpacaEvalJudge
from expo.benchmarks.alpaca_eval.request import AlpacaEvalRequest
from expo.commands._flags import add_field_flag, add_judge_arguments, judge_from_args, request_from_args

NAME = "alpaca-eval"
HELP = (
    "Judge one model's AlpacaEval outputs against the reference with alpaca_eval "
    "(weighted_alpaca_eval_gpt4_turbo semantics); writes OUT/annotations.json and OUT/leaderboard.csv."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--model-outputs", required=True, help="JSON list of instruction/output/generator records"
    )
    parser.add_argument(
        "--reference", required=True, help="reference outputs (gpt4_1106_preview), same format"
    )
    parser.add_argument("--out", required=True, help="output directory (annotations.json, leaderboard.csv)")
    for flag, help in (
        ("--name", "model name (default: the outputs' generator)"),
        ("--outputs-copy", "also write the outputs with generator = name here"),
        ("--cache-dir", "judgment journal root; one subdirectory per judge"),
        ("--df-gamed", "local df_gamed.csv for the LC win rate; 'none' = no LC; default: the hub"),
    ):
        add_field_flag(parser, AlpacaEvalRequest, flag, help)
    parser.add_argument(
        "--allow-prefix",
        action="store_true",
        help="the outputs may answer only the first N reference instructions (a prompt limit; no LC then)",
    )
    add_judge_arguments(parser, AlpacaEvalJudge, AlpacaEvalRequest)


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.alpaca_eval.runner import run as alpaca_eval

    judge = judge_from_args(args, AlpacaEvalJudge)
    result = alpaca_eval(request_from_args(AlpacaEvalRequest, args, out_dir=args.out, judge=judge))
    row = result.leaderboard
    print(
        f"{result.name}: win_rate={row['win_rate']:.4f} LC={row['length_controlled_winrate']} "
        f"n_wins={row['n_wins']} n_wins_base={row['n_wins_base']} n_draws={row['n_draws']} "
        f"failed={result.n_failed} requests={result.n_requests} reused={result.n_reused}"
    )
    return 0
