"""``expo tables``: paper tables (CSV/Markdown/LaTeX) and plots from raw benchmark results, ours or the authors'."""

from __future__ import annotations

import argparse

NAME = "tables"
HELP = (
    "build the paper tables and plots from results_alpaca/, results_mtbench/, results_lmeval/ and selection/"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--from", dest="root", required=True, help="folder laid out like the project (ROOT)")
    parser.add_argument("--out", required=True, help="output folder (replaced atomically)")
    parser.add_argument("--published", default=None, help="published numbers, e.g. config/published.yaml")
    parser.add_argument(
        "--selection-dir", default=None, help="alpha-selection results (default ROOT/selection)"
    )
    parser.add_argument(
        "--df-gamed",
        default=None,
        help="local df_gamed.csv of tatsu-lab/alpaca_eval for the length-controlled win rate "
        "(default ROOT/resources/alpaca_eval/df_gamed.csv when present)",
    )
    parser.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    parser.add_argument(
        "--note",
        action="append",
        default=None,
        metavar="TABLE=TEXT",
        help="why TABLE is empty, written into it (repeatable; the tables rule passes the stages the config "
        "leaves out); an empty table without a note says what is missing under ROOT",
    )


def run(args: argparse.Namespace) -> int:
    from expo.tables.build import build_tables
    from expo.tables.notes import parse_notes

    result = build_tables(
        args.root,
        args.out,
        published_path=args.published,
        selection_dir=args.selection_dir,
        df_gamed=args.df_gamed,
        plots_enabled=not args.no_plots,
        stage_notes=parse_notes(args.note),
    )
    print(f"expo tables: wrote {len(result.files)} files to {result.out}")
    return 0
