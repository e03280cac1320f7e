"""``expo mt-bench-score``: merge MT-Bench judgment files and write turn 1 / turn 2 / overall per model."""

from __future__ import annotations

import argparse

from expo.commands._flags import request_from_args

NAME = "mt-bench-score"
HELP = "merge MT-Bench judgment files (FastChat format) and write per-model scores (CSV)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--judgments", nargs="+", required=True, help="judgment JSONL files")
    parser.add_argument(
        "--out", required=True, help="scores CSV: model,turn1,turn2,score,n_judgments,n_failed"
    )
    parser.add_argument(
        "--merged", help="also write all judgments into this one JSONL (e.g. gpt-4_single.jsonl)"
    )
    parser.add_argument("--judge", help="only judgments by this judge model")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.mt_bench.scores import ScoresRequest
    from expo.benchmarks.mt_bench.scores import run as score

    print(score(request_from_args(ScoresRequest, args)).to_string(index=False))
    return 0
