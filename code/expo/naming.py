"""Canonical names shared by the CLI and the DAG: alpha strings, (pair, alpha) model ids, model references.

* alpha is written as Python's shortest float repr (``0.5``, ``8.0``, never ``0.50``), so paths are stable;
* the model keyed by (pair, alpha) is called ``{pair}_alpha{alpha}``; alpha 0.0 is the aligned model;
* a model reference is a local path or a hub id ``owner/name`` with an optional ``@revision``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from expo.errors import ExpoError

# Matches exactly the canonical spellings (0.5, 2.5, 25.0; not 0.50, 00.5 or .5).
ALPHA_REGEX = r"(?:0|[1-9][0-9]*)\.(?:0|[0-9]*[1-9])"
HUB_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def parse_alpha(value: str | float | int) -> float:
    """Parse an alpha value; raise ExpoError naming it when it is not a finite number."""
    if isinstance(value, bool):
        raise ExpoError(f"alpha {value!r} is not a number")
    try:
        alpha = float(value)
    except (TypeError, ValueError):
        raise ExpoError(f"alpha {value!r} is not a number") from None
    if not math.isfinite(alpha):
        raise ExpoError(f"alpha {value!r} is not a finite number")
    return alpha


def canonical_alpha(value: str | float | int) -> str:
    """The one spelling of an alpha used in paths: ``repr(float(alpha))`` (0.5, 2.5, 25.0)."""
    alpha = parse_alpha(value)
    if alpha < 0:
        raise ExpoError(f"alpha {value!r} is negative (extrapolation needs alpha >= 0)")
    text = repr(alpha + 0.0)  # + 0.0 turns -0.0 into 0.0
    if "e" in text or "inf" in text:
        raise ExpoError(f"alpha {value!r} is outside the supported range (1e-4 <= alpha < 1e16)")
    return text


def model_id(pair: str, alpha: str | float) -> str:
    """Name of the model keyed by (pair, alpha), used for every output file of that model."""
    return f"{pair}_alpha{canonical_alpha(alpha)}"


@dataclass(frozen=True)
class ModelRef:
    """A model given in config: a hub id (``owner/name[@revision]``) or a local directory."""

    raw: str
    hub_id: str | None = None
    revision: str | None = None

    @property
    def is_hub(self) -> bool:
        return self.hub_id is not None

    def local_dir(self, models_dir: str | Path = "resources/models") -> Path:
        """Where compute jobs read the model: the path itself, or the download folder of a hub id."""
        if not self.is_hub:
            return Path(self.raw).expanduser()
        name = self.hub_id.replace("/", "--")
        if self.revision:
            name += f"--{self.revision}"
        return Path(models_dir) / name


def parse_model_ref(ref: str) -> ModelRef:
    """Local when it looks like a path (absolute, ./, ../, ~) or exists on disk; else a hub id."""
    if not isinstance(ref, str) or not ref.strip():
        raise ExpoError(f"model reference {ref!r} is empty")
    if ref.startswith(("/", "./", "../", "~")) or Path(ref).expanduser().exists():
        return ModelRef(raw=ref)
    hub_id, _, revision = ref.partition("@")
    if not HUB_ID_RE.match(hub_id) or (revision == "" and "@" in ref):
        raise ExpoError(
            f"model reference {ref!r} is neither an existing path nor a hub id 'owner/name[@revision]'"
        )
    return ModelRef(raw=ref, hub_id=hub_id, revision=revision or None)
