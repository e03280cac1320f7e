"""``expo fetch-mt-bench``: MT-Bench questions, judge prompts and GPT-4 references of FastChat v0.2.36."""

from __future__ import annotations

import argparse

NAME = "fetch-mt-bench"
HELP = "get MT-Bench data (FastChat v0.2.36) from GitHub or a local folder (--from), checked against the tag"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out",
        required=True,
        help="folder to write question.jsonl, judge_prompts.jsonl, reference_answer/gpt-4.jsonl",
    )
    parser.add_argument("--from", dest="source", help="copy from this local folder instead of downloading")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.mt_bench.fetch import fetch_mt_bench

    fetch_mt_bench(args.out, args.source)
    return 0
