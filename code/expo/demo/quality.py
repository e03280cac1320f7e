"""A quick self-check of a built demo: sample answers from a model and score them with the demo reward model.

Used by the builder's verification and the tests to confirm the demo behaves like a real alignment setup
(mean reward rises from SFT to aligned). Plain transformers on CPU, seeded, a few dozen short generations.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoModelForSequenceClassification, AutoTokenizer


def load_prompts(demo_dir: str | os.PathLike) -> list[str]:
    path = Path(demo_dir) / "prompts_ultrafeedback.jsonl"
    return [
        json.loads(line)["prompt"] for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


@torch.no_grad()
def generate(
    model_or_dir: str | os.PathLike | torch.nn.Module,
    tokenizer_dir: str | os.PathLike,
    prompts: Sequence[str],
    *,
    max_new_tokens: int = 48,
    do_sample: bool = True,
    seed: int = 42,
) -> list[str]:
    """One answer per prompt: chat template + generation prompt, temperature 0.7 / top_k 50 / top_p 0.9."""
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = model_or_dir
    if not isinstance(model, torch.nn.Module):
        model = AutoModelForCausalLM.from_pretrained(model_or_dir)
    model.eval()
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True
        )
        for p in prompts
    ]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    torch.manual_seed(seed)
    sampling = dict(temperature=0.7, top_k=50, top_p=0.9) if do_sample else {}
    out = model.generate(
        **batch,
        max_new_tokens=max_new_tokens,
        do_sample=do_sample,
        pad_token_id=tokenizer.pad_token_id,
        **sampling,
    )
    new_tokens = out[:, batch["input_ids"].shape[1] :]
    return [tokenizer.decode(row, skip_special_tokens=True).strip() for row in new_tokens]


@torch.no_grad()
def score(reward_dir: str | os.PathLike, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
    """Raw reward (the 1-output head's logit) of each (prompt, response) chat, scored in one left-padded batch."""
    tokenizer = AutoTokenizer.from_pretrained(reward_dir)
    model = AutoModelForSequenceClassification.from_pretrained(reward_dir)
    model.eval()
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": p}, {"role": "assistant", "content": r}], tokenize=False
        )
        for p, r in zip(prompts, responses, strict=True)
    ]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    return model(**batch).logits[:, 0].float().tolist()


def mean_reward(
    demo_dir: str | os.PathLike,
    model: str,
    *,
    max_new_tokens: int = 48,
    do_sample: bool = True,
    seed: int = 42,
) -> float:
    """Mean demo reward of ``model`` (``sft`` or ``aligned``) over the demo UltraFeedback prompts."""
    demo_dir = Path(demo_dir)
    prompts = load_prompts(demo_dir)
    answers = generate(
        demo_dir / model,
        demo_dir / model,
        prompts,
        max_new_tokens=max_new_tokens,
        do_sample=do_sample,
        seed=seed,
    )
    rewards = score(demo_dir / "reward", prompts, answers)
    return sum(rewards) / len(rewards)
