"""``expo generate``: sample one response per prompt with a model's chat template (vLLM or transformers)."""

from __future__ import annotations

import argparse

NAME = "generate"
HELP = "generate one response per prompt (UltraFeedback JSONL or AlpacaEval JSON outputs), resumable"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", required=True, help="model directory (Hugging Face format)")
    parser.add_argument(
        "--prompts", required=True, help="prompt file: JSONL with prompt/instruction, or JSON list"
    )
    parser.add_argument(
        "--out", required=True, help="outputs file (.jsonl = UltraFeedback, .json = AlpacaEval)"
    )
    parser.add_argument("--backend", choices=["vllm", "transformers"], default="vllm")
    parser.add_argument(
        "--format", choices=["ultrafeedback", "alpaca"], help="default: by the --out extension"
    )
    parser.add_argument("--generator", help="AlpacaEval 'generator' name (default: the model dir name)")
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--top-k", type=int, default=50)
    parser.add_argument("--top-p", type=float, default=0.9)
    parser.add_argument("--presence-penalty", type=float, default=0.1)
    parser.add_argument("--frequency-penalty", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--max-new-tokens", type=int, default=2048)
    parser.add_argument("--stop-token-ids", type=int, nargs="*", default=[], help="extra stop token ids")
    parser.add_argument("--trust-remote-code", action="store_true")
    parser.add_argument("--chat-template", help="Jinja chat template file for models without one")
    parser.add_argument(
        "--batch-size", type=int, help="prompts per batch / progress flush (vllm 1024, transformers 8)"
    )
    parser.add_argument(
        "--tensor-parallel-size", type=int, help="vLLM only (default: number of visible GPUs)"
    )
    parser.add_argument("--limit", type=int, help="only the first N prompts")


def run(args: argparse.Namespace) -> int:
    from expo.generation.run import GenerateRequest, generate
    from expo.generation.sampling import SamplingSettings

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
