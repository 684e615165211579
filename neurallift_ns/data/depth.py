"""A rough depth map of the photo, in one convention: larger is farther, normalised to [0, 1] on the object.

Only the *order* of depths is used downstream (the depth ranking loss), so a relative depth or a disparity will do;
what matters is knowing which of the two a map is. Depth-estimation models through transformers (Depth Anything V2
by default) mostly predict relative disparity; the model's type tells us.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from jaxtyping import Bool, Float, UInt8

from lift_common.pretrained import resolve_pretrained

DepthConvention = Literal["depth", "disparity"]

# transformers model types that predict metric or relative *depth*; the others (DPT, Depth Anything relative) predict
# relative inverse depth, i.e. disparity.
_DEPTH_PREDICTING_MODEL_TYPES = ("glpn", "zoedepth", "depth_pro", "prompt_depth_anything")


def model_depth_convention(config) -> DepthConvention:
    """Whether a transformers depth model's output is depth or disparity, from its config."""
    if getattr(config, "depth_estimation_type", "relative") == "metric":
        return "depth"
    return "depth" if config.model_type in _DEPTH_PREDICTING_MODEL_TYPES else "disparity"


def estimate_depth(
    rgb: UInt8[np.ndarray, "H W 3"], model: str, device: str, option: str
) -> tuple[Float[np.ndarray, "H W"], DepthConvention]:
    """A transformers depth-estimation model's prediction at the photo's size, and its convention."""
    import torch
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    source = resolve_pretrained(model, what="Depth estimation", option=option)
    processor = AutoImageProcessor.from_pretrained(source)
    network = AutoModelForDepthEstimation.from_pretrained(source).to(device).eval()
    inputs = processor(images=rgb, return_tensors="pt").to(device)
    with torch.no_grad():
        predicted = network(**inputs).predicted_depth
    predicted = predicted.reshape(1, 1, *predicted.shape[-2:]).float()
    resized = torch.nn.functional.interpolate(predicted, size=rgb.shape[:2], mode="bicubic", align_corners=False)
    return resized[0, 0].cpu().numpy(), model_depth_convention(network.config)


def silhouette_depth(mask: Bool[np.ndarray, "H W"]) -> Float[np.ndarray, "H W"]:
    """A depth with no model: the object's interior nearer than its outline (a convex "inflated" silhouette).

    The depth of an inflated silhouette falls as the square root of the distance to the outline, as for a sphere
    seen head-on. It is a weak prior, used only when no depth model or user depth can be had.
    """
    import cv2

    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, 5)
    height = np.sqrt(distance / max(float(distance.max()), 1e-6))
    return (1.0 - height).astype(np.float32)


def normalise_depth(
    depth: Float[np.ndarray, "H W"], convention: DepthConvention, mask: Bool[np.ndarray, "H W"]
) -> Float[np.ndarray, "H W"]:
    """Larger is farther, scaled so the object's depths span [0, 1] (values off the object are clipped to it)."""
    depth = -depth if convention == "disparity" else depth  # only order matters: negating a disparity orders it
    on_object = depth[mask] if mask.any() else depth.ravel()
    low, high = float(on_object.min()), float(on_object.max())
    return np.clip((depth - low) / max(high - low, 1e-8), 0.0, 1.0).astype(np.float32)
