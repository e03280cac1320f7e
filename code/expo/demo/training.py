"""Seeded, deterministic CPU training loops for the demo models (LM on responses, reward regression)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator, Sequence

import torch
from tqdm import tqdm
from transformers import PreTrainedTokenizerFast

from expo.demo.corpus import ChatExample, ScoredExample


@contextlib.contextmanager
def deterministic_torch(seed: int) -> Iterator[None]:
    """One thread, deterministic algorithms, fixed seed; restores the caller's settings afterwards."""
    threads = torch.get_num_threads()
    was_deterministic = torch.are_deterministic_algorithms_enabled()
    rng_state = torch.get_rng_state()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(was_deterministic)
        torch.set_rng_state(rng_state)


def encode_chat(
    tokenizer: PreTrainedTokenizerFast, prompt: str, response: str, with_bos: bool = True
) -> tuple[list[int], int]:
    """Token ids of the chat-formatted pair and the number of leading prompt tokens (not trained on)."""
    user = [{"role": "user", "content": prompt}]
    prompt_text = tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True)
    full_text = tokenizer.apply_chat_template(
        [*user, {"role": "assistant", "content": response}], tokenize=False
    )
    ids = tokenizer(full_text, add_special_tokens=with_bos)["input_ids"]
    n_prompt = len(tokenizer(prompt_text, add_special_tokens=with_bos)["input_ids"])
    return ids, n_prompt


def right_pad(rows: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, attention mask) of ``rows`` padded on the right with ``pad_id``."""
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
        mask[i, : len(row)] = 1
    return ids, mask


def _batches(lengths: Sequence[int], batch_size: int, steps: int, rng: random.Random) -> Iterator[list[int]]:
    """``steps`` batches of indices: shuffled epochs, examples of similar length grouped to avoid padding."""
    pending: list[list[int]] = []
    for _ in range(steps):
        if not pending:
            order = list(range(len(lengths)))
            rng.shuffle(order)
            for start in range(0, len(order), 8 * batch_size):
                group = sorted(order[start : start + 8 * batch_size], key=lambda i: lengths[i])
                pending += [group[i : i + batch_size] for i in range(0, len(group), batch_size)]
            rng.shuffle(pending)
        yield pending.pop()


def response_lm_loss(
    model: torch.nn.Module, ids: torch.Tensor, mask: torch.Tensor, labels: torch.Tensor
) -> torch.Tensor:
    """Next-token cross-entropy on the positions whose label is not -100 (the LM head only on those: the same
    loss as ``labels=...``, cheaper)."""
    hidden = model.model(input_ids=ids, attention_mask=mask).last_hidden_state
    targets = labels[:, 1:]
    predicting = targets != -100
    logits = model.lm_head(hidden[:, :-1][predicting])
    return torch.nn.functional.cross_entropy(logits, targets[predicting])


def optimizer_step(model: torch.nn.Module, optimizer, loss: torch.Tensor, schedule=None) -> float:
    """Backward, clip the gradient norm to 1, step (and the learning-rate ``schedule``); the loss value."""
    optimizer.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    if schedule is not None:
        schedule.step()
    return loss.item()


def train_causal_lm(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    examples: Sequence[ChatExample],
    *,
    steps: int,
    lr: float,
    seed: int,
    batch_size: int = 16,
    no_bos_share: float = 0.2,
    desc: str = "demo LM",
) -> list[float]:
    """Next-token loss on the response (and closing ``</s>``) of each chat example; returns the losses."""
    rng = random.Random(seed)
    encoded = []
    for ex in examples:
        ids, n_prompt = encode_chat(tokenizer, ex.prompt, ex.response, with_bos=rng.random() >= no_bos_share)
        labels = [-100] * n_prompt + ids[n_prompt:]
        encoded.append((ids, labels))
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses = []
    batches = _batches([len(ids) for ids, _ in encoded], batch_size, steps, rng)
    for batch in tqdm(batches, total=steps, desc=desc, unit="step", mininterval=1.0):
        ids, mask = right_pad([encoded[i][0] for i in batch], tokenizer.pad_token_id)
        labels, _ = right_pad([encoded[i][1] for i in batch], -100)
        losses.append(optimizer_step(model, optimizer, response_lm_loss(model, ids, mask, labels)))
    model.eval()
    return losses


def train_reward_model(
    model: torch.nn.Module,
    tokenizer: PreTrainedTokenizerFast,
    examples: Sequence[ScoredExample],
    *,
    steps: int,
    lr: float,
    seed: int,
    batch_size: int = 16,
    desc: str = "demo reward model",
) -> list[float]:
    """Regress the scalar head onto each example's target reward (left padding, as at scoring time)."""
    rng = random.Random(seed)
    encoded = [encode_chat(tokenizer, ex.prompt, ex.response)[0] for ex in examples]
    targets = torch.tensor([ex.target for ex in examples])
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    model.train()
    losses = []
    batches = _batches([len(ids) for ids in encoded], batch_size, steps, rng)
    for batch in tqdm(batches, total=steps, desc=desc, unit="step", mininterval=1.0):
        rows = [encoded[i] for i in batch]
        width = max(len(r) for r in rows)
        ids = torch.tensor([[tokenizer.pad_token_id] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        scores = model(input_ids=ids, attention_mask=mask).logits[:, 0]
        losses.append(optimizer_step(model, optimizer, torch.nn.functional.mse_loss(scores, targets[batch])))
    model.eval()
    return losses
