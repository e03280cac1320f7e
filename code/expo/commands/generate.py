"""``expo generate``: sample one response per prompt with a model's chat template (vLLM or transformers)."""

from __future__ import annotations

import argparse

from expo.commands._flags import (
    add_model_arguments,
    add_sampling_arguments,
    add_seed_and_length_arguments,
    request_from_args,
    sampling_from_args,
)
from expo.generation.run import GenerateRequest
from expo.generation.sampling import SamplingSettings

NAME = "generate"
HELP = "generate one response per prompt (UltraFeedback JSONL or AlpacaEval JSON outputs), resumable"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_model_arguments(parser, GenerateRequest)
    parser.add_argument(
        "--prompts", required=True, help="prompt file: JSONL with prompt/instruction, or JSON list"
    )
    parser.add_argument(
        "--out", required=True, help="outputs file (.jsonl = UltraFeedback, .json = AlpacaEval)"
    )
    parser.add_argument(
        "--format", choices=["ultrafeedback", "alpaca"], help="default: by the --out extension"
    )
    parser.add_argument("--generator", help="AlpacaEval 'generator' name (default: the model dir name)")
    add_sampling_arguments(parser, SamplingSettings)
    add_seed_and_length_arguments(parser, SamplingSettings)
    parser.add_argument("--limit", type=int, help="only the first N prompts")


def run(args: argparse.Namespace) -> int:
    from expo.generation.run import generate

    generate(request_from_args(GenerateRequest, args, sampling=sampling_from_args(args, SamplingSettings)))
    return 0
