"""``expo generate``: sample one response per prompt with a model's chat template (vLLM or transformers)."""

from __future__ import annotations

import argparse

from expo.commands._flags import add_model_arguments, add_sampling_arguments, add_seed_and_length_arguments
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

    sampling = SamplingSettings(
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        presence_penalty=args.presence_penalty,
        frequency_penalty=args.frequency_penalty,
        seed=args.seed,
        max_new_tokens=args.max_new_tokens,
        stop_token_ids=tuple(args.stop_token_ids or ()),
    )
    generate(
        GenerateRequest(
            model=args.model,
            prompts=args.prompts,
            out=args.out,
            backend=args.backend,
            format=args.format,
            generator=args.generator,
            sampling=sampling,
            trust_remote_code=args.trust_remote_code,
            chat_template=args.chat_template,
            batch_size=args.batch_size,
            tensor_parallel_size=args.tensor_parallel_size,
            limit=args.limit,
        )
    )
    return 0
