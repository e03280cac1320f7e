"""`expo alpaca-eval`: official AlpacaEval 2.0 (weighted GPT-4-Turbo annotator) for one model's outputs."""

from __future__ import annotations

import argparse

from expo.benchmarks.alpaca_eval.judge import AlpacaEvalJudge
from expo.benchmarks.alpaca_eval.request import AlpacaEvalRequest
from expo.commands._flags import add_judge_arguments, field_default, judge_from_args

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
    parser.add_argument("--name", default=None, help="model name (default: the outputs' generator)")
    parser.add_argument(
        "--outputs-copy", default=None, help="also write the outputs with generator = name here"
    )
    parser.add_argument(
        "--cache-dir",
        default=field_default(AlpacaEvalRequest, "cache_dir"),
        help="judgment journal root; one subdirectory per judge",
    )
    parser.add_argument(
        "--df-gamed",
        default=None,
        help="local df_gamed.csv for the LC win rate; 'none' = no LC; default: the hub",
    )
    parser.add_argument(
        "--allow-prefix",
        action="store_true",
        help="the outputs may answer only the first N reference instructions (a prompt limit; no LC then)",
    )
    add_judge_arguments(parser, AlpacaEvalJudge, AlpacaEvalRequest)


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.alpaca_eval.runner import run as alpaca_eval

    result = alpaca_eval(
        AlpacaEvalRequest(
            model_outputs=args.model_outputs,
            reference=args.reference,
            out_dir=args.out,
            judge=judge_from_args(args, AlpacaEvalJudge),
            name=args.name,
            cache_dir=args.cache_dir,
            df_gamed=args.df_gamed,
            max_failed_fraction=args.max_failed_fraction,
            outputs_copy=args.outputs_copy,
            allow_prefix=args.allow_prefix,
        )
    )
    row = result.leaderboard
    print(
        f"{result.name}: win_rate={row['win_rate']:.4f} LC={row['length_controlled_winrate']} "
        f"n_wins={row['n_wins']} n_wins_base={row['n_wins_base']} n_draws={row['n_draws']} "
        f"failed={result.n_failed} requests={result.n_requests} reused={result.n_reused}"
    )
    return 0
