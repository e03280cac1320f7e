"""``expo lmeval``: run lm-eval 0.4.13 (Open LLM Leaderboard v1 / v2 or the local task) on one model."""

from __future__ import annotations

import argparse

from expo.benchmarks.lmeval.runner import LmevalRequest
from expo.commands._flags import add_field_flag, request_from_args

NAME = "lmeval"
HELP = "run lm-eval 0.4.13 on a model (suite v1, v2 or local); writes <out>/<task>.json and keeps raw output"


def _limit(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory (Hugging Face format)")
    parser.add_argument("--out", required=True, help="results folder, e.g. results_lmeval/<model>")
    add_field_flag(
        parser, LmevalRequest, "--suite", "v1 (Open LLM Leaderboard v1), v2 (leaderboard group), local"
    )
    add_field_flag(parser, LmevalRequest, "--backend", "vllm (GPU) or hf (transformers; CPU or GPU)")
    parser.add_argument("--tasks", nargs="+", help="only these tasks of the suite")
    parser.add_argument("--limit", type=_limit, help="only the first N documents per task (testing only)")
    add_field_flag(parser, LmevalRequest, "--batch-size", "lm-eval --batch_size (int, auto, auto:N)")
    parser.add_argument("--device", help="hf backend device (default cuda:0 when available, else cpu)")
    parser.add_argument("--dtype", help="model dtype (default: bfloat16 on vllm, auto on hf)")
    parser.add_argument("--model-args", help="extra lm-eval model_args k=v,k2=v2 (never device/batch_size)")
    parser.add_argument("--tensor-parallel-size", type=int, help="vllm tensor parallel size")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--log-samples", action="store_true", help="keep per-document samples in raw/")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.lmeval.runner import run as lmeval

    lmeval(request_from_args(LmevalRequest, args))
    return 0
