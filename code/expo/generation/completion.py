"""The result of generating for one prompt, as both backends report it (vLLM's conventions)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Completion:
    """``text`` without the stop token; ``length`` = generated token ids, *including* the EOS/stop token
    when generation stopped on one (vLLM's ``token_ids``); ``finish_reason`` is ``stop`` or ``length``."""

    text: str
    length: int
    finish_reason: str
