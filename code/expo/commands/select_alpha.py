"""``expo select-alpha``: per-alpha reward statistics of a pair's sweep, the chosen alpha, and the plot."""

from __future__ import annotations

import argparse

NAME = "select-alpha"
HELP = "choose alpha by mean UltraFeedback reward (or take the published one) and plot the sweep"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pair", required=True, help="pair name (for messages and the JSON)")
    parser.add_argument(
        "--rewards", nargs="+", required=True, metavar="ALPHA=FILE", help="rewards file per alpha"
    )
    parser.add_argument(
        "--outputs", nargs="+", required=True, metavar="ALPHA=FILE", help="outputs file per alpha"
    )
    parser.add_argument("--out", required=True, help="selection JSON")
    parser.add_argument("--plot", help="selection plot (PNG)")
    parser.add_argument("--mode", choices=["sweep", "published"], default="sweep")
    parser.add_argument("--published-alpha", type=float, help="the pair's published alpha (--mode published)")


def run(args: argparse.Namespace) -> int:
    import logging

    from expo.selection.stats import parse_alpha_files, select_alpha, write_selection

    result = select_alpha(
        args.pair,
        parse_alpha_files(args.rewards, "--rewards"),
        parse_alpha_files(args.outputs, "--outputs"),
        args.mode,
        args.published_alpha,
    )
    if args.plot:
        from expo.selection.plot import plot_selection

        plot_selection(result, args.plot)
    write_selection(result, args.out)
    logging.getLogger("expo.selection").info(
        "select-alpha: %s: chosen alpha %s (%s); %s",
        args.pair,
        result["chosen_alpha"],
        args.mode,
        ", ".join(f"{a}: {s['mean_reward']:.4f}" for a, s in result["alphas"].items()),
    )
    return 0
