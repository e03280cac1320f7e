"""Sampling settings shared by both backends (the paper's vLLM settings are the defaults)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from expo.errors import ExpoError


@dataclass(frozen=True)
class SamplingSettings:
    """One sample per prompt: temperature 0.7, top_k 50, top_p 0.9, penalties 0.1, seed 42, 2048 tokens."""

    temperature: float = 0.7
    top_k: int = 50
    top_p: float = 0.9
    presence_penalty: float = 0.1
    frequency_penalty: float = 0.1
    seed: int = 42
    max_new_tokens: int = 2048
    stop_token_ids: tuple[int, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        if self.temperature < 0:
            raise ExpoError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ExpoError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.top_k < -1:
            raise ExpoError(f"--top-k must be -1, 0 (disabled) or positive, got {self.top_k}")
        for name in ("presence_penalty", "frequency_penalty"):
            if not -2 <= getattr(self, name) <= 2:
                raise ExpoError(f"--{name.replace('_', '-')} must be in [-2, 2], got {getattr(self, name)}")
        if self.max_new_tokens <= 0:
            raise ExpoError(f"--max-new-tokens must be positive, got {self.max_new_tokens}")

    def as_dict(self) -> dict:
        d = asdict(self)
        d["stop_token_ids"] = list(self.stop_token_ids)
        return d
