"""Tiny Llama architectures for the demo: a causal LM (SFT / aligned) and a 1-output reward model."""

from __future__ import annotations

import torch
from transformers import (
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
)

# 2 heads x 32: head_dim 32 is the smallest vLLM's CPU attention runs (16 is refused).
TINY_LLAMA = dict(
    hidden_size=64,
    num_hidden_layers=2,
    num_attention_heads=2,
    num_key_value_heads=2,
    intermediate_size=128,
    max_position_embeddings=512,
    tie_word_embeddings=False,
    rms_norm_eps=1e-5,
)


def tiny_config(tokenizer: PreTrainedTokenizerFast, **extra) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        dtype="float32",
        **TINY_LLAMA,
        **extra,
    )


def new_causal_lm(tokenizer: PreTrainedTokenizerFast, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    model = LlamaForCausalLM(tiny_config(tokenizer))
    model.generation_config = GenerationConfig(
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return model


def new_reward_model(
    tokenizer: PreTrainedTokenizerFast, backbone: LlamaForCausalLM, seed: int
) -> LlamaForSequenceClassification:
    """A 1-label sequence classifier whose transformer body starts from ``backbone`` (as real RMs start from SFT)."""
    torch.manual_seed(seed)
    model = LlamaForSequenceClassification(tiny_config(tokenizer, num_labels=1))
    model.model.load_state_dict(backbone.model.state_dict())
    return model
