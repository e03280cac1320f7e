"""`expo demo-models`: build the tiny offline demo (tokenizer, SFT / aligned / reward models, prompt files)."""

from __future__ import annotations

import argparse
from pathlib import Path

NAME = "demo-models"
HELP = "build the tiny CPU demo models, demo judge and prompt files (offline, deterministic, about a minute)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", required=True, type=Path, help="output directory (must not exist unless --force)"
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="training seed (same seed -> same bytes; default 0)"
    )
    parser.add_argument("--force", action="store_true", help="replace --out once the new build is complete")
    parser.add_argument(
        "--judge",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train the demo judge (judge/, mt_bench/, alpaca_reference.json; needs alpaca_eval; "
        "about a minute on 2 cores; default on)",
    )


def run(args: argparse.Namespace) -> int:
    from expo.demo import build_demo
    from expo.errors import ExpoError

    if args.out.exists() and not args.force:
        raise ExpoError(f"--out {args.out} already exists (use --force to replace it)")
    paths = build_demo(args.out, seed=args.seed, force=args.force, judge=args.judge)
    for key, path in paths.items():
        print(f"{key}\t{path}")
    return 0
