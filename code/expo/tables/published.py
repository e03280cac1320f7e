"""The published numbers (``config/published.yaml``) and the mapping of the authors' model names to ours.

A result is keyed by our model id ``{pair}_alpha{alpha}``; the authors' names (``tulu-2-dpo-7b-ExPO``,
``zephyr_0.05``, ``zephyr-7b-sft-full``) are resolved through the file's ``aliases``. ``resolve`` returns the
(pair, canonical alpha) of a name, or (None, None) for a model outside any pair (the SFT of the controlled
runs).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from expo.errors import ExpoError
from expo.naming import ALPHA_REGEX, canonical_alpha

MODEL_ID_RE = re.compile(rf"^(?P<pair>.+)_alpha(?P<alpha>{ALPHA_REGEX})$")
SECTIONS = ("aliases", "pairs", "controlled", "alpaca_leaderboard")


@dataclass
class Published:
    aliases: dict[str, dict] = field(default_factory=dict)
    pairs: dict[str, dict] = field(default_factory=dict)
    controlled: list[dict] = field(default_factory=list)
    alpaca_leaderboard: dict[str, dict] = field(default_factory=dict)

    def resolve(self, name: str) -> tuple[str | None, str | None]:
        """(pair, canonical alpha) of a model name: our id, else an alias; (None, None) when unknown."""
        match = MODEL_ID_RE.match(name)
        if match:
            return match["pair"], canonical_alpha(match["alpha"])
        alias = self.aliases.get(name)
        if alias and "pair" in alias:
            return alias["pair"], canonical_alpha(alias["alpha"])
        return None, None

    def published_alpha(self, pair: str) -> str | None:
        alpha = self.pairs.get(pair, {}).get("alpha")
        if alpha is None:
            alpha = next(
                (r.get("alpha") for r in self.controlled if r.get("pair") == pair and r.get("expo")), None
            )
        return None if alpha is None else canonical_alpha(alpha)

    def value(self, pair: str, which: str, metric: str, sub: str | None = None) -> float | None:
        """Published ``metric`` of the ``which`` ('original' | 'expo') model of ``pair``; None if not published."""
        block = self.pairs.get(pair, {}).get(which) or {}
        value = block.get(metric)
        if sub is not None:
            value = value.get(sub) if isinstance(value, dict) else None
        return None if value is None else float(value)


def load_published(path: str | Path | None) -> Published:
    """Read and check the published-numbers file; an absent ``path`` (None) gives an empty one."""
    if path is None:
        return Published()
    path = Path(path)
    if not path.is_file():
        raise ExpoError(f"{path}: published numbers file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ExpoError(f"{path}{where}: malformed YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise ExpoError(f"{path}: expected a mapping with sections {', '.join(SECTIONS)}")
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        raise ExpoError(f"{path}: unknown section(s) {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    pub = Published(
        aliases=data.get("aliases") or {},
        pairs=data.get("pairs") or {},
        controlled=data.get("controlled") or [],
        alpaca_leaderboard=data.get("alpaca_leaderboard") or {},
    )
    for name, alias in pub.aliases.items():
        if not isinstance(alias, dict) or not (("pair" in alias and "alpha" in alias) or "model" in alias):
            raise ExpoError(f"{path}: aliases.{name} must be {{pair, alpha}} or {{model}}")
        if "alpha" in alias:
            try:
                canonical_alpha(alias["alpha"])
            except ExpoError as exc:
                raise ExpoError(f"{path}: aliases.{name}.alpha: {exc}") from None
    for pair, entry in pub.pairs.items():
        if not isinstance(entry, dict):
            raise ExpoError(f"{path}: pairs.{pair} must be a mapping")
        for which in ("original", "expo"):
            block = entry.get(which) or {}
            if not isinstance(block, dict):
                raise ExpoError(f"{path}: pairs.{pair}.{which} must be a mapping")
            for metric, value in block.items():
                values = value.values() if isinstance(value, dict) else [value]
                if any(isinstance(v, bool) or not isinstance(v, int | float) for v in values):
                    raise ExpoError(f"{path}: pairs.{pair}.{which}.{metric} is not a number")
    for i, row in enumerate(pub.controlled):
        if not isinstance(row, dict) or "label" not in row or not ("pair" in row or "model" in row):
            raise ExpoError(f"{path}: controlled[{i}] needs a label and a pair or model")
    return pub
