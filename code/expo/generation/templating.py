"""Chat templating: load a model's tokenizer, check it has a chat template, and turn prompts into token ids.

A prompt becomes ``tokenizer.apply_chat_template([{"role": "user", "content": prompt}],
add_generation_prompt=True, tokenize=True, return_dict=False)`` (transformers 5 returns a BatchEncoding
unless ``return_dict=False``). Those ids are handed to the backend as they are: the template decides about
BOS (Mistral/Llama-3 templates write it, Zephyr's does not), exactly as the authors' vLLM script did. A
template that yields two leading BOS tokens is repaired to one.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from expo.errors import ExpoError

log = logging.getLogger(__name__)


def check_model_dir(model_dir: str | os.PathLike, what: str = "model") -> Path:
    """A model directory must exist and hold a config.json."""
    path = Path(model_dir)
    if not path.is_dir():
        raise ExpoError(f"{what} directory {path} not found")
    if not (path / "config.json").is_file():
        raise ExpoError(f"{what} directory {path} has no config.json (not a Hugging Face model dir)")
    return path


def load_chat_tokenizer(
    model_dir: str | os.PathLike,
    trust_remote_code: bool = False,
    chat_template_file: str | os.PathLike | None = None,
    what: str = "model",
):
    """The model's tokenizer, with ``chat_template_file`` (Jinja) replacing its template when given."""
    from transformers import AutoTokenizer

    check_model_dir(model_dir, what)
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(model_dir), trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as exc:
        raise ExpoError(
            f"{what} {model_dir}: cannot load its tokenizer: {str(exc).splitlines()[0]}"
        ) from None
    if chat_template_file:
        template_path = Path(chat_template_file)
        if not template_path.is_file():
            raise ExpoError(f"chat template file {template_path} not found")
        tokenizer.chat_template = template_path.read_text(encoding="utf-8")
    if not getattr(tokenizer, "chat_template", None):
        raise ExpoError(
            f"{what} {model_dir} has no chat template; pass --chat-template FILE "
            "(in the pipeline: config pairs.<pair>.chat_template)"
        )
    return tokenizer


def single_bos(ids: list[int], bos_token_id: int | None) -> list[int]:
    """Drop duplicated leading BOS tokens (a template writing BOS plus a tokenizer adding one)."""
    if bos_token_id is None:
        return ids
    start = 0
    while start + 1 < len(ids) and ids[start] == bos_token_id and ids[start + 1] == bos_token_id:
        start += 1
    return ids[start:]


def chat_prompt_ids(tokenizer, prompt: str) -> list[int]:
    """Token ids of one user turn under the chat template, with the generation prompt appended."""
    return conversation_ids(tokenizer, [{"role": "user", "content": prompt}])


def conversation_ids(tokenizer, messages: list[dict]) -> list[int]:
    """Token ids of a conversation under the chat template, ending with the generation prompt (one BOS)."""
    ids = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, tokenize=True, return_dict=False
    )
    if hasattr(ids, "keys"):  # older/newer tokenizers that still hand back a mapping
        ids = ids["input_ids"]
    if ids and isinstance(ids[0], list):
        ids = ids[0]
    return single_bos(list(ids), tokenizer.bos_token_id)
