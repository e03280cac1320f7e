"""``expo download-model``: fetch a hub model into resources/models/ (a localrule; compute jobs stay offline)."""

from __future__ import annotations

NAME = "download-model"
HELP = "download a HuggingFace hub model (safetensors + config/tokenizer files) into a local folder"


def add_arguments(parser) -> None:
    parser.add_argument("--repo-id", required=True, help="hub id owner/name")
    parser.add_argument("--revision", default=None, help="branch, tag or commit (default: main)")
    parser.add_argument("--out", required=True, help="destination folder (created atomically)")
    parser.add_argument("--force", action="store_true", help="replace an existing destination")


def run(args) -> int:
    from expo.hub.download import download_model

    download_model(args.repo_id, args.out, revision=args.revision, force=args.force)
    return 0
