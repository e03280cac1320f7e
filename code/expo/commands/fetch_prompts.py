"""``expo fetch-prompts``: write the UltraFeedback dev or AlpacaEval prompt set from the hub or a local file."""

from __future__ import annotations

import argparse

NAME = "fetch-prompts"
HELP = "fetch a prompt set (ultrafeedback test_gen or the AlpacaEval 805) from the hub or a local file"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="prompt_set", required=True, choices=["ultrafeedback", "alpaca_eval"])
    parser.add_argument(
        "--out", required=True, help="ultrafeedback: .jsonl of {prompt}; alpaca_eval: .json list"
    )
    parser.add_argument("--source", default="hub", help="'hub' (default) or a local JSONL/JSON prompt file")
    parser.add_argument("--limit", type=int, help="keep only the first N prompts")


def run(args: argparse.Namespace) -> int:
    from expo.generation.prompts import fetch_prompt_set

    fetch_prompt_set(args.prompt_set, args.out, args.source, args.limit)
    return 0
