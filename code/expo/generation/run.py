"""``expo generate``: prompts -> chat-templated ids -> backend batches -> resumable, atomic outputs file.

``generate(GenerateRequest(...))`` (also ``run``) is the stage; the request's fields carry the defaults the CLI
and the DAG use. Beside the outputs it writes ``<stem>.provenance.json`` (``outputs.provenance_path``) with
the sampling settings used; ``load_generator`` gives the backends to other stages (MT-Bench answers), whose
``set_sampling`` changes the sampling between batches.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass, fields
from pathlib import Path

from tqdm import tqdm

from expo.errors import ExpoError
from expo.generation.outputs import (
    package_versions,
    progress_journal,
    progress_rows,
    provenance_path,
    write_outputs,
)
from expo.generation.prompts import FORMATS, format_for_path, read_prompts
from expo.generation.sampling import SamplingSettings
from expo.generation.templating import chat_prompt_ids, check_model_dir, load_chat_tokenizer
from expo.io.atomic import write_json

log = logging.getLogger(__name__)

BACKENDS = ("vllm", "transformers")
DEFAULT_BATCH_SIZE = {"vllm": 1024, "transformers": 8}


@dataclass(kw_only=True)
class GenerationOptions:
    """How a model generates (backend, sampling, templating, batching): the fields ``expo generate`` and every
    stage that generates through it (``expo sweep``) share, with their one default each."""

    backend: str = "vllm"
    sampling: SamplingSettings = SamplingSettings()
    trust_remote_code: bool = False
    chat_template: str | None = None
    batch_size: int | None = None
    tensor_parallel_size: int | None = None
    limit: int | None = None


def generation_options(request: GenerationOptions) -> dict:
    """The :class:`GenerationOptions` fields of ``request`` (a subclass), as keyword arguments."""
    return {f.name: getattr(request, f.name) for f in fields(GenerationOptions)}


@dataclass
class GenerateRequest(GenerationOptions):
    model: str
    prompts: str
    out: str
    format: str | None = None
    generator: str | None = None


def _digest(texts: list[str]) -> str:
    h = hashlib.sha256()
    for t in texts:
        h.update(t.encode("utf-8") + b"\0")
    return h.hexdigest()[:16]


def load_generator(
    backend: str,
    model: str,
    tokenizer,
    sampling: SamplingSettings,
    tensor_parallel_size: int | None = None,
    trust_remote_code: bool = False,
):
    """Load a generation backend: ``generate(batch_ids, batch_index) -> [Completion]`` and
    ``set_sampling(settings)`` to change the sampling of later batches without reloading."""
    if backend == "vllm":
        from expo.generation.vllm_backend import VllmGenerator

        return VllmGenerator(model, sampling, tensor_parallel_size, trust_remote_code)
    from expo.generation.transformers_backend import TransformersGenerator

    return TransformersGenerator(model, tokenizer, sampling, trust_remote_code)


def make_backend(req: GenerateRequest, tokenizer):
    return load_generator(
        req.backend, req.model, tokenizer, req.sampling, req.tensor_parallel_size, req.trust_remote_code
    )


def generate(
    req: GenerateRequest, backend_factory=None, weights: str | None = None, keep_sidecar: bool = False
) -> Path:
    """Run one generation job; every user error is raised before a model is loaded.

    ``backend_factory`` (a no-argument callable returning a backend) replaces loading ``req.model``: the in-engine
    sweep passes one that sets a running engine's weights and is called only when there is something to generate;
    ``weights`` then describes those weights in the progress header and the provenance. ``keep_sidecar`` leaves the
    progress file in place after success (the sweep removes it once every alpha is done, so a rerun after
    Snakemake deleted a killed job's outputs rebuilds the finished ones without generating).
    """
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

        check_vllm_installed(req.model)
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
    if weights is not None:
        header["weights"] = weights
    journal = progress_journal(out, header, len(prompts))
    done = journal.records
    batches = [
        list(range(start, min(start + batch_size, len(prompts))))
        for start in range(0, len(prompts), batch_size)
    ]
    todo = [(b, idx) for b, idx in enumerate(batches) if any(i not in done for i in idx)]
    log.info(
        "generate: %d prompts (%s format) with %s, %d batches of %d, %d to do; sampling %s",
        len(prompts), fmt, req.backend, len(batches), batch_size, len(todo), req.sampling.as_dict(),
    )  # fmt: skip
    with journal:
        if todo:
            backend = backend_factory() if backend_factory is not None else make_backend(req, tokenizer)
            with tqdm(total=len(prompts), initial=len(done), desc="generate", unit="prompt") as bar:
                for batch_index, indices in todo:
                    completions = backend.generate([prompt_ids[i] for i in indices], batch_index)
                    new = [(i, c) for i, c in zip(indices, completions, strict=True) if i not in done]
                    journal.append(progress_rows(new))
                    bar.update(len(new))
    completions = [done[i] for i in range(len(prompts))]
    provenance = {
        **header,
        "prompts": {"file": str(req.prompts), "sha256_16": header["prompts"], "n": len(prompts)},
        "generator": generator,
        "tensor_parallel_size": req.tensor_parallel_size,
        "chat_template": req.chat_template or f"tokenizer chat_template of {header['model']}",
        "versions": package_versions(),
    }
    del provenance["n_prompts"]
    write_json(provenance_path(out), provenance)
    write_outputs(out, prompts, completions, fmt, generator)
    if not keep_sidecar:
        journal.remove()
    n_stop = sum(c.finish_reason == "stop" for c in completions)
    log.info(
        "generate: wrote %s (%d outputs, mean length %.1f tokens, %d stopped / %d hit the length limit)",
        out, len(completions), sum(c.length for c in completions) / len(completions), n_stop, len(completions) - n_stop,
    )  # fmt: skip
    return out


run = generate
