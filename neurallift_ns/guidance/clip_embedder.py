"""CLIP image embeddings (open_clip) and the spherical distance NeuralLift-360 measures between them.

The model can be an open_clip architecture with a pretrained tag (``ViT-B-16`` + ``openai``) or a local weights file,
a Hugging Face Hub repository in open_clip's format (``hf-hub:owner/name``), or a folder holding the same files as
such a repository (``open_clip_config.json`` and ``open_clip_pytorch_model.bin`` or ``open_clip_model.safetensors``).
Hub repositories are fetched to a folder and loaded by the same code as a local folder.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from jaxtyping import Float
from torch import Tensor

from lift_common.errors import UserInputError
from lift_common.pretrained import resolve_pretrained
from lift_common.user_files import read_json

HF_HUB_PREFIX = "hf-hub:"
CONFIG_FILE = "open_clip_config.json"
WEIGHT_FILES = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")
DEFAULT_OPTION_PREFIX = "stable-diffusion --"
"""What comes before the CLIP options on ns-train's command line, unless the guidance says otherwise."""


def spherical_distance(a: Float[Tensor, "*batch D"], b: Float[Tensor, "*batch D"]) -> Float[Tensor, "*batch"]:
    """Squared great-circle distance between the directions of ``a`` and ``b`` (0 when they agree, up to pi^2/2)."""
    a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
    return (a - b).norm(dim=-1).div(2).arcsin().pow(2).mul(2)


def _hub_folder(repo_id: str, option_prefix: str) -> Path:
    from huggingface_hub import snapshot_download

    resolved = resolve_pretrained(repo_id, what="CLIP", option=f"{option_prefix}clip-model")
    return Path(snapshot_download(resolved, allow_patterns=[CONFIG_FILE, *WEIGHT_FILES]))


def _load_from_folder(folder: Path, option_prefix: str):
    import open_clip

    config_path = folder / CONFIG_FILE
    weights = next((folder / name for name in WEIGHT_FILES if (folder / name).is_file()), None)
    if not config_path.is_file() or weights is None:
        raise UserInputError(
            f"CLIP model folder '{folder}' needs {CONFIG_FILE} and one of {', '.join(WEIGHT_FILES)} "
            f"(the files of an open_clip Hub repository). Pass another folder or model with {option_prefix}clip-model."
        )
    fix = f"Pass the folder of an open_clip Hub repository (or another model) with {option_prefix}clip-model."
    config = read_json(config_path, fix)
    if not isinstance(config, dict) or not isinstance(config.get("model_cfg"), dict):
        raise UserInputError(f"{config_path} has no 'model_cfg' object (open_clip's model configuration). {fix}")
    model_config = dict(config["model_cfg"])
    custom_text = model_config.pop("custom_text", False) or "hf_model_name" in model_config.get("text_cfg", {})
    try:
        model = (open_clip.CustomTextCLIP if custom_text else open_clip.CLIP)(**model_config)
    except (TypeError, ValueError, KeyError) as error:
        raise UserInputError(f"{config_path}'s model_cfg is not an open_clip model ({error}). {fix}") from None
    try:
        open_clip.load_checkpoint(model, str(weights))
    except Exception as error:  # truncated file, wrong format, or weights of another architecture
        raise UserInputError(
            f"{weights} could not be loaded into the model {config_path} describes "
            f"({type(error).__name__}: {str(error).splitlines()[0][:200]}). {fix}"
        ) from None
    return model, config.get("preprocess_cfg", {})


def _load_architecture(name: str, pretrained: str, option_prefix: str):
    import open_clip
    from open_clip.pretrained import get_pretrained_cfg

    hub_repo = get_pretrained_cfg(name, pretrained).get("hf_hub", "").strip("/")
    if hub_repo:  # fail early, with our message, when the weights cannot be had
        resolve_pretrained(hub_repo, what=f"CLIP ({name}, {pretrained})", option=f"{option_prefix}clip-model")
    try:
        model = open_clip.create_model(name, pretrained=pretrained or None)
    except RuntimeError as error:
        raise UserInputError(
            f"CLIP model '{name}' with pretrained weights '{pretrained}' cannot be loaded ({error}). "
            f"Check {option_prefix}clip-model and {option_prefix}clip-pretrained."
        ) from None
    return model, getattr(model.visual, "preprocess_cfg", {})


class ClipImageEmbedder:
    """Embeds images in [0, 1] with a frozen CLIP image tower; differentiable with respect to the images."""

    def __init__(
        self,
        model_name: str,
        pretrained: str,
        device: torch.device | str,
        dtype: torch.dtype,
        option_prefix: str = DEFAULT_OPTION_PREFIX,
    ) -> None:
        local = Path(model_name).expanduser()
        if local.is_dir():
            model, preprocess = _load_from_folder(local, option_prefix)
        elif model_name.startswith(HF_HUB_PREFIX):
            folder = _hub_folder(model_name[len(HF_HUB_PREFIX) :], option_prefix)
            model, preprocess = _load_from_folder(folder, option_prefix)
        else:
            model, preprocess = _load_architecture(model_name, pretrained, option_prefix)
        self.visual = model.visual.to(device=device, dtype=dtype).eval().requires_grad_(False)
        del model  # the text tower is not needed: NeuralLift-360 compares images with images
        size = self.visual.image_size
        self.image_size = tuple(size) if isinstance(size, (tuple, list)) else (size, size)
        mean = preprocess.get("mean") or (0.48145466, 0.4578275, 0.40821073)
        std = preprocess.get("std") or (0.26862954, 0.26130258, 0.27577711)
        self.mean = torch.tensor(mean, device=device, dtype=dtype).view(1, 3, 1, 1)
        self.std = torch.tensor(std, device=device, dtype=dtype).view(1, 3, 1, 1)
        self.dtype = dtype

    def preprocess(self, images: Float[Tensor, "views 3 H W"]) -> Float[Tensor, "views 3 h w"]:
        """Images in [0, 1] resized to CLIP's input and normalised as it was trained. Antialiased: a 512 px render
        shrunk to 224 px by plain bilinear sampling aliases its fine texture into patterns CLIP would see."""
        resized = F.interpolate(
            images.to(self.dtype), size=self.image_size, mode="bilinear", align_corners=False, antialias=True
        )
        return (resized - self.mean) / self.std

    def __call__(self, images: Float[Tensor, "views 3 H W"]) -> Float[Tensor, "views D"]:
        """Unit-length embeddings of channel-first images in [0, 1]."""
        return F.normalize(self.visual(self.preprocess(images)).float(), dim=-1)
