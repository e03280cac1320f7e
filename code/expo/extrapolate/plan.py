"""Match the tensors of an SFT and an aligned checkpoint and decide what to do with each, before writing a byte.

The plan lists, in the aligned model's file order, every output tensor with its aligned and SFT sources and an
action: ``extrapolate`` (floating point) or ``copy`` (non-float tensors equal in both). Tied word embeddings are
handled: an output embedding (``lm_head.weight``) absent from a checkpoint whose config ties it is read from
that checkpoint's input embedding, and one stored in the aligned checkpoint next to the embedding it is tied to
is an alias, left out of the output (transformers re-ties it on load, as save_pretrained does).
Every mismatch is an ExpoError naming the tensor.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from expo.errors import ExpoError
from expo.extrapolate.checkpoint import Checkpoint, TensorInfo, TensorReader

log = logging.getLogger(__name__)

OUTPUT_EMBEDDING_NAMES = ("lm_head.weight", "output.weight", "embed_out.weight")
INPUT_EMBEDDING_SUFFIXES = (
    "embed_tokens.weight",
    "tok_embeddings.weight",
    "wte.weight",
    "word_embeddings.weight",
    "embed_in.weight",
)
COMPARE_CHUNK_ELEMS = 1 << 22


@dataclass(frozen=True)
class PlannedTensor:
    """One output tensor: written with the aligned tensor's name, dtype and shape."""

    name: str
    aligned: TensorInfo
    sft: TensorInfo
    action: str  # "extrapolate" or "copy"

    @property
    def nbytes(self) -> int:
        return self.aligned.nbytes


def _is_output_embedding(name: str) -> bool:
    return name in OUTPUT_EMBEDDING_NAMES


def _is_embedding(name: str) -> bool:
    return _is_output_embedding(name) or name.endswith(INPUT_EMBEDDING_SUFFIXES)


def input_embedding(ckpt: Checkpoint) -> TensorInfo | None:
    """The checkpoint's input embedding tensor (the one an untied-absent lm_head is tied to), if any."""
    names = [n for n in ckpt.tensors if n.endswith(INPUT_EMBEDDING_SUFFIXES)]
    return ckpt.tensors[min(names, key=len)] if names else None


def _check_pair(name: str, sft: TensorInfo, aligned: TensorInfo) -> None:
    if sft.shape != aligned.shape:
        if _is_embedding(name) and sft.shape[1:] == aligned.shape[1:] and sft.shape[:1] != aligned.shape[:1]:
            raise ExpoError(
                f"vocab size mismatch in {name}: sft has {sft.shape[0]} rows, aligned has {aligned.shape[0]} "
                "(resize one model's embeddings first; no silent truncation)"
            )
        raise ExpoError(
            f"shape mismatch in tensor {name}: sft {list(sft.shape)}, aligned {list(aligned.shape)}"
        )
    if sft.is_float != aligned.is_float:
        raise ExpoError(
            f"tensor {name} is {sft.dtype} in sft but {aligned.dtype} in aligned: floating point expected in both"
        )


def _equal_bytes(name: str, sft: TensorInfo, aligned: TensorInfo, reader: TensorReader) -> bool:
    if sft.dtype != aligned.dtype:
        return False
    size = min(COMPARE_CHUNK_ELEMS, aligned.numel) * aligned.itemsize
    buf_a = np.empty(size, dtype=np.uint8)
    buf_s = np.empty(size, dtype=np.uint8)
    for start in range(0, aligned.numel, COMPARE_CHUNK_ELEMS):
        count = min(COMPARE_CHUNK_ELEMS, aligned.numel - start)
        if not np.array_equal(
            reader.read(aligned, start, count, buf_a), reader.read(sft, start, count, buf_s)
        ):
            return False
    return True


def build_plan(sft: Checkpoint, aligned: Checkpoint, reader: TensorReader) -> list[PlannedTensor]:
    """Check that the two checkpoints match and return the output tensors in aligned file order."""
    al_names = list(aligned.tensors)
    # An output embedding stored beside the input embedding it is tied to is an alias: computed once.
    al_embed = input_embedding(aligned)
    if aligned.ties_word_embeddings and al_embed is not None:
        for alias in [n for n in al_names if _is_output_embedding(n)]:
            log.info(
                "aligned config ties word embeddings: %s is an alias of %s, not written", alias, al_embed.name
            )
            al_names.remove(alias)
    sft_embed = input_embedding(sft)

    plan: list[PlannedTensor] = []
    for name in al_names:
        al_info = aligned.tensors[name]
        sft_info = sft.tensors.get(name)
        if sft_info is None:
            if _is_output_embedding(name) and sft.ties_word_embeddings and sft_embed is not None:
                log.info("sft config ties word embeddings: using sft %s for %s", sft_embed.name, name)
                sft_info = sft_embed
            else:
                raise ExpoError(
                    f"tensor {name} is in the aligned model {aligned.root} but not in the sft model"
                )
        _check_pair(name, sft_info, al_info)
        action = "extrapolate" if al_info.is_float else "copy"
        if action == "copy" and not _equal_bytes(name, sft_info, al_info, reader):
            raise ExpoError(
                f"tensor {name} is {al_info.dtype} (not floating point) and differs between sft and aligned: "
                "cannot extrapolate it"
            )
        if action == "extrapolate" and sft_info.dtype != al_info.dtype:
            log.info("tensor %s: sft %s is cast to the aligned dtype %s", name, sft_info.dtype, al_info.dtype)
        plan.append(PlannedTensor(name, al_info, sft_info, action))

    covered = set(al_names)
    for name in sft.tensors:
        if name in covered or name in aligned.tensors:
            continue
        if _is_output_embedding(name) and aligned.ties_word_embeddings and al_embed is not None:
            log.info("aligned config ties word embeddings: sft %s is not used", name)
            continue
        raise ExpoError(f"tensor {name} is in the sft model {sft.root} but not in the aligned model")
    return plan
