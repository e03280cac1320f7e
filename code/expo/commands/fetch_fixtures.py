"""``expo fetch-fixtures``: download the published artifacts the tests read (pinned commits, sha256-checked)."""

from __future__ import annotations

import argparse

NAME = "fetch-fixtures"
HELP = (
    "download the test fixtures (the authors' published results, AlpacaEval and MT-Bench data at pinned "
    "commits) into --out, checking each sha256; files already there and intact are kept"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from expo.fixtures import DEFAULT_DIR, ENV_VAR
    from expo.fixtures.manifest import DEFAULT_BASE_URL

    parser.add_argument(
        "--out",
        default=None,
        help=f"fixture folder (default: where the tests look: ${ENV_VAR} when set, else ../shared/data when "
        f"that folder exists, else {DEFAULT_DIR})",
    )
    parser.add_argument(
        "--base-url",
        default=DEFAULT_BASE_URL,
        help="a mirror of raw.githubusercontent.com laid out as OWNER/REPO/COMMIT/PATH",
    )


def run(args: argparse.Namespace) -> int:
    from expo.fixtures import default_out
    from expo.fixtures.fetch import fetch_fixtures

    out = args.out if args.out is not None else default_out()
    counts = fetch_fixtures(out, base_url=args.base_url)
    print(f"expo fetch-fixtures: {counts['fetched']} fetched, {counts['present']} already present in {out}")
    return 0
