"""Download a model snapshot (safetensors + config/tokenizer/remote-code files) into a local folder, atomically."""

from __future__ import annotations

import logging
from pathlib import Path

from expo.errors import ExpoError
from expo.io.atomic import atomic_dir

log = logging.getLogger(__name__)

# Weights as safetensors only (no pickle), plus everything a model needs besides weights.
MODEL_PATTERNS = [
    "*.safetensors",
    "*.safetensors.index.json",
    "*.json",
    "*.model",
    "*.tiktoken",
    "*.txt",
    "*.jinja",
    "*.py",
]


def download_model(repo_id: str, out: str | Path, revision: str | None = None, force: bool = False) -> Path:
    """Fetch ``repo_id`` at ``revision`` into ``out`` (temp dir + rename); error when it has no safetensors."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError

    out = Path(out)
    with atomic_dir(out, force=force) as tmp:
        try:
            snapshot_download(
                repo_id=repo_id,
                revision=revision,
                local_dir=tmp,
                allow_patterns=MODEL_PATTERNS,
            )
        except (HfHubHTTPError, LocalEntryNotFoundError, OSError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ExpoError(f"cannot download {repo_id}@{revision or 'main'}: {first}") from None
        if not list(tmp.glob("*.safetensors")):
            raise ExpoError(
                f"{repo_id}@{revision or 'main'} has no *.safetensors weights (pickle .bin is not fetched)"
            )
        cache = tmp / ".cache"
        if cache.is_dir():
            import shutil

            shutil.rmtree(cache)
    log.info("downloaded %s@%s to %s", repo_id, revision or "main", out)
    return out
