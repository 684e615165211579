"""Text prompts for the diffusion prior: the object's prompt, its learnt token, and the view direction."""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor

DEFAULT_SUBJECT = "a photo of the object"
"""What the prompt says when the user gives none and no token was learnt."""


def subject_prompt(prompt: str, token: str | None = None) -> str:
    """The prompt naming the object: the user's, with the learnt token put in front unless the user placed it."""
    prompt = prompt.strip()
    if token is None or token in prompt:
        return prompt or DEFAULT_SUBJECT
    return f"a photo of {token}, {prompt}" if prompt else f"a photo of {token}"


def direction_prompt(subject: str, direction: str) -> str:
    """The prompt for a view from ``direction`` (one of the orbit's direction names)."""
    return f"{subject}, {direction} view"


def azimuth_prompt_weights(azimuth_deg: Float[Tensor, "views"]) -> Float[Tensor, "views 3"]:
    """Weights of the front, side and back prompts' embeddings for views at ``azimuth_deg`` (0 is the photo's view).

    Linear in the azimuth's magnitude: front alone at 0, side alone at 90, back alone at 180, so a view between two
    labels is told something between them instead of jumping from "front" to "side" at 45 degrees
    (stable-dreamfusion's image mode, ``nerf/utils.py`` train_step).
    """
    magnitude = (torch.remainder(azimuth_deg + 180.0, 360.0) - 180.0).abs()
    front = (1.0 - magnitude / 90.0).clamp(min=0.0)
    back = ((magnitude - 90.0) / 90.0).clamp(min=0.0)
    return torch.stack([front, 1.0 - front - back, back], dim=-1)
