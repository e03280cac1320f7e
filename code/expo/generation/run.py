"""``expo generate``: prompts -> chat-templated ids -> backend batches -> resumable, atomic outputs file."""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from expo.errors import ExpoError
from expo.generation.outputs import Sidecar, write_outputs
from expo.generation.prompts import FORMATS, format_for_path, read_prompts
from expo.generation.sampling import SamplingSettings
from expo.generation.templating import chat_prompt_ids, check_model_dir, load_chat_tokenizer

log = logging.getLogger(__name__)

BACKENDS = ("vllm", "transformers")
DEFAULT_BATCH_SIZE = {"vllm": 1024, "transformers": 8}


@dataclass
class GenerateRequest:
    model: str
    prompts: str
    out: str
    backend: str = "vllm"
    format: str | None = None
    generator: str | None = None
    sampling: SamplingSettings = SamplingSettings()
    trust_remote_code: bool = False
    chat_template: str | None = None
    batch_size: int | None = None
    tensor_parallel_size: int | None = None
    limit: int | None = None


def _digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def make_backend(req: GenerateRequest, tokenizer):
    if req.backend == "vllm":
        from expo.generation.vllm_backend import VllmGenerator

        return VllmGenerator(req.model, req.sampling, req.tensor_parallel_size, req.trust_remote_code)
    from expo.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator(req.model, tokenizer, req.sampling, req.trust_remote_code)


def generate(req: GenerateRequest) -> Path:
    """Run one generation job; every user error is raised before a model is loaded."""
    if req.backend not in BACKENDS:
        raise ExpoError(f"unknown backend {req.backend!r} (choose from {', '.join(BACKENDS)})")
    fmt = req.format or format_for_path(req.out)
    if fmt not in FORMATS:
        raise ExpoError(f"unknown format {fmt!r} (choose from {', '.join(FORMATS)})")
    batch_size = req.batch_size or DEFAULT_BATCH_SIZE[req.backend]
    if batch_size <= 0:
        raise ExpoError(f"--batch-size must be positive, got {batch_size}")
    if req.limit is not None and req.limit <= 0:
        raise ExpoError(f"--limit must be positive, got {req.limit}")
    prompts = read_prompts(req.prompts, req.limit)
    check_model_dir(req.model)
    if req.backend == "vllm":
        from expo.generation.vllm_backend import check_vllm_installed

        check_vllm_installed()
    tokenizer = load_chat_tokenizer(req.model, req.trust_remote_code, req.chat_template)
    prompt_ids = [chat_prompt_ids(tokenizer, p.text) for p in prompts]
    generator = req.generator or Path(os.path.normpath(req.model)).name
    out = Path(req.out)
    header = {
        "model": os.path.normpath(req.model),
        "backend": req.backend,
        "format": fmt,
        "batch_size": batch_size,
        "sampling": req.sampling.as_dict(),
        "prompts": _digest([p.text for p in prompts]),
        "n_prompts": len(prompts),
    }
    sidecar = Sidecar(out, header, len(prompts))
    batches = [
        list(range(start, min(start + batch_size, len(prompts))))
        for start in range(0, len(prompts), batch_size)
    ]
    todo = [(b, idx) for b, idx in enumerate(batches) if any(i not in sidecar.done for i in idx)]
    log.info(
        "generate: %d prompts (%s format) with %s, %d batches of %d, %d to do; sampling %s",
        len(prompts), fmt, req.backend, len(batches), batch_size, len(todo), req.sampling.as_dict(),
    )  # fmt: skip
    try:
        if todo:
            backend = make_backend(req, tokenizer)
            with tqdm(total=len(prompts), initial=len(sidecar.done), desc="generate", unit="prompt") as bar:
                for batch_index, indices in todo:
                    completions = backend.generate([prompt_ids[i] for i in indices], batch_index)
                    before = len(sidecar.done)
                    sidecar.append(list(zip(indices, completions, strict=True)))
                    bar.update(len(sidecar.done) - before)
        sidecar.close()
        completions = [sidecar.done[i] for i in range(len(prompts))]
        write_outputs(out, prompts, completions, fmt, generator)
    finally:
        sidecar.close()
    sidecar.remove()
    n_stop = sum(c.finish_reason == "stop" for c in completions)
    log.info(
        "generate: wrote %s (%d outputs, mean length %.1f tokens, %d stopped / %d hit the length limit)",
        out, len(completions), sum(c.length for c in completions) / len(completions), n_stop, len(completions) - n_stop,
    )  # fmt: skip
    return out
