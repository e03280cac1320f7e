"""A stand-in for the ``vllm`` package, used by tests only (put on sys.path by the test).

It mimics the vLLM 0.33 surface expo uses - ``LLM(model, tokenizer, dtype, seed, tensor_parallel_size,
trust_remote_code, generation_config)``, ``SamplingParams(...)``, ``TokensPrompt(prompt_token_ids=...)``,
``LLM.generate(prompts, sampling_params, use_tqdm=...)`` returning objects with ``outputs[0].text /
.token_ids / .finish_reason`` - records every call in ``CALLS`` and returns deterministic fake outputs. Like
the real ``LLM.generate`` it rejects the removed ``prompt_token_ids=`` keyword.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypedDict

CALLS: list[tuple[str, object]] = []


class TokensPrompt(TypedDict, total=False):
    prompt_token_ids: list[int]


class SamplingParams:
    def __init__(
        self,
        n=1,
        presence_penalty=0.0,
        frequency_penalty=0.0,
        repetition_penalty=1.0,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        seed=None,
        stop_token_ids=None,
        max_tokens=16,
        **extra,
    ):
        self.n = n
        self.presence_penalty = presence_penalty
        self.frequency_penalty = frequency_penalty
        self.repetition_penalty = repetition_penalty
        self.temperature = temperature
        self.top_p = top_p
        self.top_k = top_k
        self.seed = seed
        self.stop_token_ids = stop_token_ids
        self.max_tokens = max_tokens
        self.extra = extra
        CALLS.append(("SamplingParams", self))


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput] = field(default_factory=list)


def fake_completion(ids: list[int], params: SamplingParams) -> CompletionOutput:
    """Deterministic: text names the prompt length and id sum; odd sums 'stop', even ones hit max_tokens."""
    total = sum(ids)
    if total % 2:
        return CompletionOutput(0, f"fake reply {len(ids)}/{total}", [7, 8, 9], "stop")
    return CompletionOutput(0, f"long fake reply {len(ids)}/{total}", [5] * params.max_tokens, "length")


class LLM:
    def __init__(self, model, **kwargs):
        self.model = model
        self.kwargs = kwargs
        CALLS.append(("LLM", {"model": model, **kwargs}))

    def generate(self, prompts, sampling_params=None, *, use_tqdm=True, **kwargs):
        if kwargs:
            raise TypeError(f"LLM.generate() got an unexpected keyword argument {next(iter(kwargs))!r}")
        CALLS.append(("generate", {"prompts": prompts, "sampling_params": sampling_params}))
        results = []
        for prompt in prompts:
            ids = list(prompt["prompt_token_ids"])
            results.append(RequestOutput(ids, [fake_completion(ids, sampling_params)]))
        return results
