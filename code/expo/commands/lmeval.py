"""``expo lmeval``: run lm-eval 0.4.13 (Open LLM Leaderboard v1 / v2 or the local task) on one model."""

from __future__ import annotations

import argparse

from expo.benchmarks.lmeval.runner import LmevalRequest
from expo.commands._flags import field_default

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
    parser.add_argument(
        "--suite",
        default=field_default(LmevalRequest, "suite"),
        help="v1 (Open LLM Leaderboard v1), v2 (leaderboard group), local",
    )
    parser.add_argument(
        "--backend",
        default=field_default(LmevalRequest, "backend"),
        help="vllm (GPU) or hf (transformers; CPU or GPU)",
    )
    parser.add_argument("--tasks", nargs="+", help="only these tasks of the suite")
    parser.add_argument("--limit", type=_limit, help="only the first N documents per task (testing only)")
    parser.add_argument(
        "--batch-size",
        default=field_default(LmevalRequest, "batch_size"),
        help="lm-eval --batch_size (int, auto, auto:N)",
    )
    parser.add_argument("--device", help="hf backend device (default cuda:0 when available, else cpu)")
    parser.add_argument("--dtype", help="model dtype (default: bfloat16 on vllm, auto on hf)")
    parser.add_argument("--model-args", help="extra lm-eval model_args k=v,k2=v2 (never device/batch_size)")
    parser.add_argument("--tensor-parallel-size", type=int, help="vllm tensor parallel size")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--log-samples", action="store_true", help="keep per-document samples in raw/")


def run(args: argparse.Namespace) -> int:
    from expo.benchmarks.lmeval.runner import run as lmeval

    lmeval(
        LmevalRequest(
            model=args.model,
            out=args.out,
            suite=args.suite,
            backend=args.backend,
            tasks=args.tasks,
            limit=args.limit,
            batch_size=args.batch_size,
            device=args.device,
            dtype=args.dtype,
            model_args=args.model_args,
            trust_remote_code=args.trust_remote_code,
            tensor_parallel_size=args.tensor_parallel_size,
            log_samples=args.log_samples,
        )
    )
    return 0
