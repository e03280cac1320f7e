"""A tiny, deterministic bf16 Llama SFT/aligned pair that vLLM's CPU attention accepts (2 heads x head_dim 32).

The demo tokenizer (trained on the demo corpus, Zephyr-style chat template) with random weights: SFT from a
seed, aligned = SFT + small seeded noise in every tensor. Prompts: the demo UltraFeedback prompts plus one
longer than two 128-token KV blocks, so a prefix cache that is not reset after a weight swap changes results.
"""

from __future__ import annotations

import json
from pathlib import Path

from expo.demo.models import TINY_LLAMA

# the demo's tiny Llama (2 heads x 32) with a longer context for the long prompt
TINY = {**TINY_LLAMA, "head_dim": 32, "max_position_embeddings": 1024}
NOISE = 0.01
LONG_PROMPT = " ".join(
    ["Please explain in detail how to brew a good cup of tea and why each step matters."] * 14
)


def build_tiny_pair(root: Path, seed: int = 0, n_prompts: int = 6) -> dict[str, Path]:
    """Write ``root/{sft,aligned}`` (safetensors, bf16) and ``root/prompts.jsonl``; return their paths."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    from expo.demo import corpus
    from expo.demo.tokenizer import train_tokenizer

    root = Path(root)
    paths = {"sft": root / "sft", "aligned": root / "aligned", "prompts": root / "prompts.jsonl"}
    if all(p.exists() for p in paths.values()):
        return paths
    tokenizer = train_tokenizer(corpus.tokenizer_training_text())
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="bfloat16",
        **TINY,
    )
    torch.manual_seed(seed)
    sft = LlamaForCausalLM(config).to(torch.bfloat16)
    generator = torch.Generator().manual_seed(seed + 1)
    aligned = LlamaForCausalLM(config).to(torch.bfloat16)
    with torch.no_grad():
        for p_sft, p_al in zip(sft.parameters(), aligned.parameters(), strict=True):
            noise = torch.randn(p_sft.shape, generator=generator) * NOISE
            p_al.copy_((p_sft.float() + noise).to(torch.bfloat16))
    for model, key in ((sft, "sft"), (aligned, "aligned")):
        model.generation_config = GenerationConfig(
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        model.save_pretrained(paths[key], safe_serialization=True)
        tokenizer.save_pretrained(paths[key])
    prompts = [
        json.loads(line)["prompt"]
        for line in corpus.read_data_text("prompts_ultrafeedback.jsonl").splitlines()
        if line.strip()
    ][: n_prompts - 1] + [LONG_PROMPT]
    paths["prompts"].write_text("".join(json.dumps({"prompt": p}) + "\n" for p in prompts))
    return paths
