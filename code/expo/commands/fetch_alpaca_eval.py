"""`expo fetch-alpaca-eval`: download the AlpacaEval 2.0 reference outputs or df_gamed.csv from the hub."""

from __future__ import annotations

import argparse

NAME = "fetch-alpaca-eval"
HELP = "download AlpacaEval 2.0's reference outputs (gpt4_1106_preview) or df_gamed.csv (LC win rate) from the hub"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--what", required=True, choices=["reference", "df_gamed"])
    parser.add_argument("--out", required=True, help="local file to write")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.alpaca_eval.fetch import fetch_resource

    print(fetch_resource(args.what, args.out))
    return 0
