"""A direct vLLM call, written from vLLM's documented API only (no expo code): run with the vLLM env's Python.

    python vllm_direct.py REQUEST.json RESULT.json

REQUEST: {"model": dir, "prompt_ids": [[int]], "text_prompts": [str], "max_tokens": int, "stop_token_ids": [int]}.
One engine (``LLM(...)`` with the settings ``expo generate --backend vllm`` documents), several checks:
``reference`` (all prompts in one call, the paper's SamplingParams plus the stop ids), ``one_by_one`` (batch
size 1), ``no_stop`` (no stop ids), ``seed43`` (another seed), ``text`` (the chat-templated text given as a
plain string prompt: vLLM's tokenizer adds its BOS), timings, and the head sizes vLLM's CPU attention supports.
``if __name__ == "__main__"``: the engine starts its processes with spawn, which re-imports this file.
"""

from __future__ import annotations

import json
import os
import sys
import time


def outputs(results):
    return [
        {
            "text": r.outputs[0].text,
            "token_ids": list(r.outputs[0].token_ids),
            "finish_reason": str(r.outputs[0].finish_reason),
            "prompt_token_ids": list(r.prompt_token_ids),
        }
        for r in results
    ]


def main(request_path: str, result_path: str) -> None:
    req = json.loads(open(request_path, encoding="utf-8").read())
    t0 = time.monotonic()
    import vllm
    from vllm import LLM, SamplingParams, TokensPrompt

    t_import = time.monotonic() - t0
    t1 = time.monotonic()
    llm = LLM(
        model=req["model"],
        tokenizer=req["model"],
        dtype="bfloat16",
        seed=42,
        tensor_parallel_size=1,
        trust_remote_code=False,
        generation_config="vllm",
    )
    t_engine = time.monotonic() - t1

    def params(**overrides):
        base = dict(
            n=1, temperature=0.7, top_k=50, top_p=0.9, presence_penalty=0.1, frequency_penalty=0.1, seed=42,
            max_tokens=req["max_tokens"], stop_token_ids=req["stop_token_ids"],
        )  # fmt: skip
        base.update(overrides)
        return SamplingParams(**base)

    prompts = [TokensPrompt(prompt_token_ids=ids) for ids in req["prompt_ids"]]
    t2 = time.monotonic()
    reference = outputs(llm.generate(prompts, params(), use_tqdm=False))
    t_generate = time.monotonic() - t2
    one_by_one = [outputs(llm.generate([p], params(), use_tqdm=False))[0] for p in prompts]
    no_stop = outputs(llm.generate(prompts, params(stop_token_ids=None), use_tqdm=False))
    seed43 = outputs(llm.generate(prompts, params(seed=43), use_tqdm=False))
    text = outputs(llm.generate(req["text_prompts"], params(), use_tqdm=False))

    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

    result = {
        "vllm_version": vllm.__version__,
        "kvcache_env": os.environ.get("VLLM_CPU_KVCACHE_SPACE"),
        "cpu_head_sizes": list(CPUAttentionBackend.get_supported_head_sizes()),
        "seconds": {"import": t_import, "engine": t_engine, "generate": t_generate},
        "reference": reference,
        "one_by_one": one_by_one,
        "no_stop": no_stop,
        "seed43": seed43,
        "text": text,
    }
    with open(result_path, "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
