"""transformers backend (CPU, or a GPU without vLLM): batched, left-padded, seeded sampling with ``generate``.

Matches the vLLM backend where transformers allows:

* sampling: ``do_sample`` with temperature / top_k / top_p, ``max_new_tokens`` (capped so prompt + output fit
  the model's ``max_position_embeddings``); stopping on EOS or any ``stop_token_ids``;
* penalties: transformers has **no** presence/frequency penalty (its ``repetition_penalty`` is a different,
  multiplicative penalty over prompt *and* output tokens). We add :class:`OutputPenalties`, a logits processor
  applying vLLM's (OpenAI's) definition, ``logit -= frequency_penalty * count + presence_penalty * (count > 0)``
  over the generated tokens only, before temperature/top-k/top-p, as vLLM does. The random streams still differ
  from vLLM's, so the same seed does not give vLLM's text;
* seeding: ``torch.manual_seed(seed + batch_index)`` before each batch, so a batch's outputs depend only on its
  prompts and index - a resumed run reproduces the batches of an uninterrupted one;
* ``length`` counts generated tokens up to and including the EOS/stop token (vLLM's ``token_ids`` include it),
  no padding; ``finish_reason`` is ``stop`` when a stop token ended it, else ``length``; the text is decoded
  without the stop token and with special tokens skipped.
"""

from __future__ import annotations

import logging

from expo.generation.completion import Completion
from expo.generation.sampling import SamplingSettings

log = logging.getLogger(__name__)

PENALTY_NOTE = (
    "transformers backend: presence/frequency penalties applied by expo's own logits processor (vLLM's "
    "definition; transformers only has repetition_penalty, which is different); sampling streams differ from vLLM"
)


def make_output_penalties(prompt_width: int, presence_penalty: float, frequency_penalty: float):
    """A LogitsProcessor subtracting vLLM's presence/frequency penalties for tokens generated so far."""
    import torch
    from transformers import LogitsProcessor

    class OutputPenalties(LogitsProcessor):
        def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
            generated = input_ids[:, prompt_width:]
            if generated.shape[1] == 0:
                return scores
            counts = torch.zeros_like(scores)
            counts.scatter_add_(1, generated, torch.ones_like(generated, dtype=scores.dtype))
            return scores - frequency_penalty * counts - presence_penalty * (counts > 0).to(scores.dtype)

    return OutputPenalties()


class TransformersGenerator:
    """Holds one causal LM and samples a left-padded batch of token-id prompts per call."""

    name = "transformers"

    def __init__(
        self, model_dir: str, tokenizer, settings: SamplingSettings, trust_remote_code: bool = False
    ):
        import torch
        from transformers import AutoModelForCausalLM, GenerationConfig

        self.torch = torch
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        dtype = torch.bfloat16 if self.device == "cuda" else torch.float32
        log.info("transformers: loading %s (%s on %s)", model_dir, dtype, self.device)
        self.model = AutoModelForCausalLM.from_pretrained(
            str(model_dir), dtype=dtype, trust_remote_code=trust_remote_code
        ).to(self.device)
        self.model.eval()
        eos = self.model.generation_config.eos_token_id
        # Like vLLM's generation_config="vllm": the model's generation_config.json sets no sampling defaults.
        self.model.generation_config = GenerationConfig()
        self.tokenizer = tokenizer
        if eos is None:
            eos = tokenizer.eos_token_id
        self.eos_ids = eos if isinstance(eos, list) else [eos] if eos is not None else []
        self._use(settings)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.stop_ids[0] if self.stop_ids else 0)
        self.max_positions = getattr(self.model.config, "max_position_embeddings", None)
        log.info("%s", PENALTY_NOTE)

    def _use(self, settings: SamplingSettings) -> None:
        self.settings = settings
        self.stop_ids = sorted({*self.eos_ids, *settings.stop_token_ids})

    def set_sampling(self, settings: SamplingSettings) -> None:
        """Sample the next batches with ``settings`` (the loaded model stays)."""
        self._use(settings)

    def _max_new_tokens(self, prompt_width: int) -> int:
        wanted = self.settings.max_new_tokens
        if self.max_positions is None:
            return wanted
        room = self.max_positions - prompt_width
        if room < wanted:
            log.debug("max_new_tokens %d capped to %d by max_position_embeddings", wanted, max(room, 1))
        return max(min(wanted, room), 1)

    def generate(self, batch_ids: list[list[int]], batch_index: int) -> list[Completion]:
        torch = self.torch
        from transformers import GenerationConfig, LogitsProcessorList

        width = max(len(ids) for ids in batch_ids)
        input_ids = torch.tensor([[self.pad_id] * (width - len(ids)) + ids for ids in batch_ids])
        attention_mask = torch.tensor([[0] * (width - len(ids)) + [1] * len(ids) for ids in batch_ids])
        s = self.settings
        config = GenerationConfig(
            do_sample=s.temperature > 0,
            temperature=s.temperature if s.temperature > 0 else None,
            top_k=max(s.top_k, 0),  # 0 disables top-k (vLLM: 0 or -1)
            top_p=s.top_p,
            max_new_tokens=self._max_new_tokens(width),
            eos_token_id=self.stop_ids or None,
            pad_token_id=self.pad_id,
        )
        processors = LogitsProcessorList()
        if s.presence_penalty or s.frequency_penalty:
            processors.append(make_output_penalties(width, s.presence_penalty, s.frequency_penalty))
        torch.manual_seed(s.seed + batch_index)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids.to(self.device),
                attention_mask=attention_mask.to(self.device),
                generation_config=config,
                logits_processor=processors,
            )
        stop = set(self.stop_ids)
        completions = []
        for row in out[:, width:].tolist():
            end = next((i for i, tok in enumerate(row) if tok in stop), None)
            if end is None:
                kept, finish = row, "length"
                length = len(row)
            else:
                kept, finish = row[:end], "stop"
                length = end + 1
            text = self.tokenizer.decode(kept, skip_special_tokens=True)
            completions.append(Completion(text, length, finish))
        return completions
