"""``expo fetch-lmeval-data``: lm-eval's datasets of a suite into the project cache (submit host, online)."""

from __future__ import annotations

import argparse

from expo.benchmarks.lmeval.datasets import FetchRequest

NAME = "fetch-lmeval-data"
HELP = "download the datasets of an lm-eval suite into a cache that offline jobs read (HF_DATASETS_CACHE)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", required=True, help="lm-eval suite: v1, v2 or local")
    parser.add_argument("--cache", default=FetchRequest.cache, help="datasets cache folder")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.lmeval.datasets import run as fetch

    fetch(FetchRequest(suite=args.suite, cache=args.cache))
    return 0
