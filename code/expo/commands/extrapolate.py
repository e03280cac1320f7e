"""``expo extrapolate``: build theta = aligned + alpha * (aligned - sft) from two checkpoint directories."""

from __future__ import annotations

import argparse

NAME = "extrapolate"
HELP = "extrapolate an aligned model away from its SFT model (ExPO), streaming safetensors shards"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sft", required=True, help="SFT model directory (safetensors)")
    parser.add_argument("--aligned", required=True, help="aligned (DPO/RLHF) model directory (safetensors)")
    parser.add_argument("--alpha", required=True, help="extrapolation strength alpha (a number, e.g. 0.3)")
    parser.add_argument("--out", required=True, help="output model directory (written atomically)")
    parser.add_argument(
        "--precision",
        choices=["reference", "fp32"],
        default="reference",
        help="reference: the authors' op order in the aligned dtype, bit for bit (default); "
        "fp32: compute in float32 and round once",
    )
    parser.add_argument("--force", action="store_true", help="replace --out if it exists")
    parser.add_argument(
        "--allow-pickle",
        action="store_true",
        help="read pickle .bin/.pt checkpoints when there are no safetensors",
    )
    parser.add_argument(
        "--shard-size-mb", type=float, default=None, help="maximum output shard size in MB (default 1000)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from expo.extrapolate import DEFAULT_SHARD_SIZE_MB, extrapolate

    extrapolate(
        args.sft,
        args.aligned,
        args.alpha,
        args.out,
        precision=args.precision,
        force=args.force,
        allow_pickle=args.allow_pickle,
        shard_size_mb=DEFAULT_SHARD_SIZE_MB if args.shard_size_mb is None else args.shard_size_mb,
        progress=not args.no_progress,
    )
    return 0
