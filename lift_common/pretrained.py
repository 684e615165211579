"""Find a pretrained model's weights before any work starts: a local folder, the Hugging Face cache, or the Hub.

Every model we load (depth, segmentation, Stable Diffusion, CLIP) goes through :func:`resolve_pretrained` first, so a
run that cannot get its weights stops at once with a message naming the model and the option that points at a local
folder, instead of failing minutes later inside a library with a traceback.
"""

from __future__ import annotations

import os
from pathlib import Path

from lift_common.errors import UserInputError

_PATH_PREFIXES = ("/", "./", "../", "~")


def hub_offline() -> bool:
    """Whether the user asked for offline mode (``HF_HUB_OFFLINE=1``), read at call time so tests can set it."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def looks_like_local_path(name_or_path: str) -> bool:
    """A hub id is ``owner/name``; anything absolute, relative with dots, or with more slashes is a path."""
    return (
        name_or_path.startswith(_PATH_PREFIXES)
        or name_or_path.count("/") > 1
        or os.sep == "\\"
        and "\\" in name_or_path
    )


def resolve_pretrained(name_or_path: str, *, what: str, option: str) -> str:
    """Return what ``from_pretrained`` should be given, or raise :class:`UserInputError` explaining how to fix it.

    Args:
        name_or_path: A Hugging Face Hub id (``owner/name``) or a local folder.
        what: What the model is for, for the message (``"Depth estimation"``).
        option: The command-line option that sets it, for the message (``--pipeline.model.depth-model``).
    """
    local = Path(name_or_path).expanduser()
    if local.is_dir():
        return str(local.resolve())
    if looks_like_local_path(name_or_path) or local.exists():
        raise UserInputError(
            f"{what} model folder '{name_or_path}' does not exist (or is not a folder). "
            f"Pass a folder saved with save_pretrained(), or a Hugging Face Hub id, with {option}."
        )

    import huggingface_hub  # imported here: only commands that load a model pay for it
    from huggingface_hub.utils import LocalEntryNotFoundError

    try:
        huggingface_hub.snapshot_download(name_or_path, local_files_only=True)
        return name_or_path
    except (LocalEntryNotFoundError, FileNotFoundError, OSError, ValueError):
        pass  # not cached: see whether the Hub can supply it

    how_to_fix = (
        f"Download it where there is internet (`hf download {name_or_path}`) and copy the Hugging Face cache "
        f"(~/.cache/huggingface) here, or save it to a folder and pass that folder with {option} /path/to/folder."
    )
    if hub_offline():
        raise UserInputError(
            f"{what} model '{name_or_path}' is not in the local Hugging Face cache and HF_HUB_OFFLINE=1 is set. "
            + how_to_fix
        )
    try:
        huggingface_hub.model_info(name_or_path, timeout=10)
    except huggingface_hub.errors.RepositoryNotFoundError:
        raise UserInputError(
            f"{what} model '{name_or_path}' does not exist on the Hugging Face Hub "
            f"(or needs a login: `hf auth login`). Check the id, or pass a local folder with {option}."
        ) from None
    except Exception as error:  # connection refused, DNS failure, timeout, proxy: all mean "not reachable"
        raise UserInputError(
            f"{what} model '{name_or_path}' is not in the local Hugging Face cache and the Hub cannot be reached "
            f"({type(error).__name__}). " + how_to_fix
        ) from None
    return name_or_path
