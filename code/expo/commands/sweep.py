"""``expo sweep``: a pair's UltraFeedback outputs for α = 0 and every α of the grid from ONE vLLM engine."""

from __future__ import annotations

import argparse

from expo.commands._flags import (
    add_field_flag,
    add_model_arguments,
    add_sampling_arguments,
    add_seed_and_length_arguments,
    request_from_args,
    sampling_from_args,
)
from expo.generation.sampling import SamplingSettings
from expo.sweep.run import SweepRequest

NAME = "sweep"
HELP = (
    "generate the UltraFeedback outputs of alpha 0 and every alpha of a grid with one vLLM engine whose weights "
    "are set in place to aligned + alpha * (aligned - sft) (no checkpoints, no restarts), resumable"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sft", required=True, help="SFT model directory (safetensors)")
    parser.add_argument("--aligned", required=True, help="aligned model directory: the engine loads it")
    parser.add_argument(
        "--pair", required=True, help="pair name: outputs are OUT_DIR/{pair}_alpha{alpha}.jsonl"
    )
    parser.add_argument(
        "--alphas",
        required=True,
        nargs="+",
        help="the alpha grid (> 0, no duplicates); alpha 0 is always added",
    )
    parser.add_argument(
        "--prompts", required=True, help="prompt file: JSONL with prompt/instruction, or JSON list"
    )
    add_field_flag(parser, SweepRequest, "--out-dir", "folder of the outputs files (default %(default)s)")
    add_field_flag(
        parser,
        SweepRequest,
        "--precision",
        "the extrapolation arithmetic, as in expo extrapolate (default %(default)s)",
        choices=["reference", "fp32"],
    )
    add_model_arguments(
        parser, SweepRequest, model=False
    )  # --backend (must be vllm), batching, template, ...
    add_sampling_arguments(parser, SamplingSettings)
    add_seed_and_length_arguments(parser, SamplingSettings)
    parser.add_argument("--limit", type=int, help="only the first N prompts")
    parser.add_argument(
        "--memory-limit-gb", type=float, help="host memory the job may use (default: available memory)"
    )


def run(args: argparse.Namespace) -> int:
    from expo.sweep import run as run_sweep

    run_sweep(
        request_from_args(
            SweepRequest, args, alphas=tuple(args.alphas), sampling=sampling_from_args(args, SamplingSettings)
        )
    )
    return 0
