"""CLIP similarity of renders to the photo: the quality measure single-image 3D papers report for novel views."""

from __future__ import annotations

from pathlib import Path

import torch
from jaxtyping import Float
from nerfstudio.utils.rich_utils import CONSOLE
from torch import Tensor

from lift_common.errors import UserInputError
from lift_common.images import composite_on_white


def photo_clip_similarity(
    renders: Float[Tensor, "views H W 3"], photo_path: Path, clip_model: str, clip_pretrained: str
) -> Float[Tensor, "views"]:
    """Cosine similarity of each render's CLIP embedding to the photo's (object on white); NaN, with one log line,
    where the CLIP weights cannot be had."""
    from neurallift_ns.guidance.clip_embedder import ClipImageEmbedder

    device = renders.device
    try:
        clip = ClipImageEmbedder(clip_model, clip_pretrained, device, torch.float32)
    except UserInputError as error:
        CONSOLE.log(f"[yellow]CLIP similarity is reported as NaN: {error}")
        return torch.full(renders.shape[:1], float("nan"))
    photo = torch.from_numpy(composite_on_white(Path(photo_path))).permute(2, 0, 1)[None].to(device)
    with torch.no_grad():
        similarity = clip(renders.permute(0, 3, 1, 2)) @ clip(photo).T
    return similarity[:, 0].cpu()
