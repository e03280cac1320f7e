"""Score (prompt, output) pairs with a reward model, as the authors did with RM-Mistral-7B, without the pipeline.

* text = the RM tokenizer's chat template over ``[user: prompt, assistant: output]`` with ``tokenize=False,
  add_generation_prompt=False``, the BOS *string* removed, then tokenized with special tokens, so BOS appears
  exactly once (the authors' ``.replace(bos_token, "")`` + text-classification pipeline);
* score = the raw logit ``model(**batch).logits[:, 0]`` (``function_to_apply="none"``: no sigmoid);
* the model must be a sequence classifier with exactly one label; its shipped ``pad_token_id`` is kept (it
  decides the pooled position, see notes/tools.md section 6);
* bf16 on GPU, fp32 on CPU (``dtype="auto"``); batches are formed after sorting by token length (less padding),
  and scores are returned in the original order.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from tqdm import tqdm

from expo.errors import ExpoError
from expo.generation.outputs import OutputRecord
from expo.generation.templating import check_model_dir

log = logging.getLogger(__name__)

DTYPES = ("auto", "bf16", "fp32")


@dataclass(frozen=True)
class PaddingStats:
    """Token slots in batches (real + padding) with length-sorted vs arrival-order batching."""

    real_tokens: int
    slots_sorted: int
    slots_unsorted: int

    @property
    def padding_sorted(self) -> int:
        return self.slots_sorted - self.real_tokens

    @property
    def padding_unsorted(self) -> int:
        return self.slots_unsorted - self.real_tokens


def check_reward_model_config(rm_dir: str | os.PathLike, trust_remote_code: bool = False):
    """Load the RM config; ExpoError unless it is a sequence classifier with exactly one label."""
    from transformers import AutoConfig

    check_model_dir(rm_dir, "reward model")
    config = AutoConfig.from_pretrained(str(rm_dir), trust_remote_code=trust_remote_code)
    archs = config.architectures or []
    if not any(a.endswith("ForSequenceClassification") for a in archs):
        raise ExpoError(
            f"reward model {rm_dir} is not a sequence classifier (architectures: {archs or 'none'}); "
            "expected e.g. MistralForSequenceClassification with one label"
        )
    if config.num_labels != 1:
        raise ExpoError(
            f"reward model {rm_dir} has {config.num_labels} labels; a reward model needs exactly 1"
        )
    return config


def resolve_dtype(dtype: str, device: str):
    import torch

    if dtype not in DTYPES:
        raise ExpoError(f"unknown --dtype {dtype!r} (choose from {', '.join(DTYPES)})")
    if dtype == "auto":
        dtype = "bf16" if device == "cuda" else "fp32"
    return torch.bfloat16 if dtype == "bf16" else torch.float32


def reward_texts(tokenizer, records: list[OutputRecord]) -> list[str]:
    """Chat-formatted [user, assistant] texts with the template's BOS string removed."""
    bos = tokenizer.bos_token
    texts = []
    for r in records:
        chat = [{"role": "user", "content": r.prompt}, {"role": "assistant", "content": r.output}]
        text = tokenizer.apply_chat_template(chat, tokenize=False, add_generation_prompt=False)
        texts.append(text.replace(bos, "") if bos else text)
    return texts


def encode_texts(tokenizer, texts: list[str]) -> list[list[int]]:
    return [tokenizer(t, add_special_tokens=True)["input_ids"] for t in texts]


def length_sorted_batches(lengths: list[int], batch_size: int, sort: bool = True) -> list[list[int]]:
    """Index batches: by decreasing length when ``sort`` (stable for ties), else in arrival order."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if sort else list(range(len(lengths)))
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def padding_stats(lengths: list[int], batch_size: int) -> PaddingStats:
    def slots(batches):
        return sum(len(b) * max(lengths[i] for i in b) for b in batches)

    return PaddingStats(
        real_tokens=sum(lengths),
        slots_sorted=slots(length_sorted_batches(lengths, batch_size, True)),
        slots_unsorted=slots(length_sorted_batches(lengths, batch_size, False)),
    )


class RewardScorer:
    """A loaded reward model and tokenizer; :meth:`score_ids` returns raw logits in input order."""

    def __init__(self, rm_dir: str, dtype: str = "auto", trust_remote_code: bool = False):
        import torch
        from transformers import AutoModelForSequenceClassification

        from expo.generation.templating import load_chat_tokenizer

        check_reward_model_config(rm_dir, trust_remote_code)
        self.tokenizer = load_chat_tokenizer(rm_dir, trust_remote_code, what="reward model")
        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.dtype = resolve_dtype(dtype, self.device)
        log.info("reward: loading %s (%s on %s)", rm_dir, self.dtype, self.device)
        self.model = AutoModelForSequenceClassification.from_pretrained(
            str(rm_dir), dtype=self.dtype, trust_remote_code=trust_remote_code
        ).to(self.device)
        self.model.eval()
        pad = self.model.config.pad_token_id
        if pad is None:
            pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else 0
        self.padding_side = getattr(self.tokenizer, "padding_side", "right")

    def _forward(self, rows: list[list[int]]) -> list[float]:
        torch = self.torch
        width = max(len(r) for r in rows)
        if self.padding_side == "left":
            ids = [[self.pad_id] * (width - len(r)) + r for r in rows]
            mask = [[0] * (width - len(r)) + [1] * len(r) for r in rows]
        else:
            ids = [r + [self.pad_id] * (width - len(r)) for r in rows]
            mask = [[1] * len(r) + [0] * (width - len(r)) for r in rows]
        with torch.inference_mode():
            logits = self.model(
                input_ids=torch.tensor(ids, device=self.device),
                attention_mask=torch.tensor(mask, device=self.device),
            ).logits
        return logits[:, 0].float().cpu().tolist()

    def score_ids(
        self, encoded: list[list[int]], batch_size: int = 8, sort: bool = True, progress: bool = True
    ):
        if batch_size <= 0:
            raise ExpoError(f"--batch-size must be positive, got {batch_size}")
        scores: list[float | None] = [None] * len(encoded)
        batches = length_sorted_batches([len(e) for e in encoded], batch_size, sort)
        for batch in tqdm(batches, desc="reward", unit="batch", disable=not progress):
            if len(batch) > 1 and self.model.config.pad_token_id is None:
                raise ExpoError("reward model has no pad_token_id in its config; use --batch-size 1")
            for i, s in zip(batch, self._forward([encoded[i] for i in batch]), strict=True):
                scores[i] = s
        return scores

    def score_records(
        self, records: list[OutputRecord], batch_size: int = 8, sort: bool = True
    ) -> list[float]:
        return self.score_ids(
            encode_texts(self.tokenizer, reward_texts(self.tokenizer, records)), batch_size, sort
        )


def direct_scores(scorer: RewardScorer, records: list[OutputRecord]) -> list[float]:
    """Reference scores: one forward pass per record (batch 1, no padding), for checking pooled scores."""
    encoded = encode_texts(scorer.tokenizer, reward_texts(scorer.tokenizer, records))
    return [scorer._forward([ids])[0] for ids in encoded]


def verify_scores(
    scorer: RewardScorer, records: list[OutputRecord], scores: list[float], tol: float = 1e-5
) -> float:
    """Largest |batched - batch-1| difference; ExpoError naming the record when it exceeds ``tol``."""
    reference = direct_scores(scorer, records)
    worst = 0.0
    for i, (a, b) in enumerate(zip(scores, reference, strict=True)):
        diff = abs(a - b)
        worst = max(worst, diff)
        if diff > tol:
            raise ExpoError(
                f"record {i}: batched score {a} differs from batch-1 score {b} by {diff:.2e} > {tol}"
            )
    return worst
