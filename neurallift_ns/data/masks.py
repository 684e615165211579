"""The object mask of a photo: the user's, the photo's alpha, a segmentation model's, or GrabCut's.

The segmentation model is CLIPSeg through transformers (text-prompted, so it finds "the main object" or whatever the
user names), loaded from a Hub id or a local folder. GrabCut needs no weights: seeded with the photo's border as
background, it separates the object that a photographer centres from its surroundings.
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, UInt8

from lift_common.pretrained import resolve_pretrained

GRABCUT_BORDER = 0.05
"""Fraction of the photo's width and height, at each edge, that GrabCut takes as sure background."""


def largest_component(mask: Bool[np.ndarray, "H W"]) -> Bool[np.ndarray, "H W"]:
    """Keep the largest connected region, with its holes filled: one object, no specks."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return mask
    largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    region = (labels == largest).astype(np.uint8)
    contours, _ = cv2.findContours(region, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    filled = np.zeros_like(region)
    cv2.drawContours(filled, contours, -1, 1, thickness=cv2.FILLED)
    return filled.astype(bool)


def grabcut_mask(rgb: UInt8[np.ndarray, "H W 3"], iterations: int = 5) -> Bool[np.ndarray, "H W"]:
    """GrabCut with the photo's border as sure background and the rest as probable foreground."""
    import cv2

    height, width = rgb.shape[:2]
    # GrabCut's Gaussian mixtures need no more than ~512 px to separate object from background; it is slow above.
    scale = min(1.0, 512.0 / max(height, width))
    small = cv2.resize(rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA)
    labels = np.full(small.shape[:2], cv2.GC_PR_FGD, np.uint8)
    border_y = max(1, round(small.shape[0] * GRABCUT_BORDER))
    border_x = max(1, round(small.shape[1] * GRABCUT_BORDER))
    labels[:border_y], labels[-border_y:], labels[:, :border_x], labels[:, -border_x:] = (cv2.GC_BGD,) * 4
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    bgr = np.ascontiguousarray(small[..., ::-1])
    cv2.grabCut(bgr, labels, None, background_model, foreground_model, iterations, cv2.GC_INIT_WITH_MASK)
    foreground = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    foreground = cv2.resize(foreground, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    return largest_component(foreground)


def segmentation_model_mask(
    rgb: UInt8[np.ndarray, "H W 3"], model: str, prompt: str, device: str, option: str
) -> Bool[np.ndarray, "H W"]:
    """CLIPSeg's mask for ``prompt``, thresholded at probability 0.5, largest region kept."""
    import torch
    from transformers import CLIPSegForImageSegmentation, CLIPSegProcessor

    source = resolve_pretrained(model, what="Segmentation", option=option)
    processor = CLIPSegProcessor.from_pretrained(source)
    network = CLIPSegForImageSegmentation.from_pretrained(source).to(device).eval()
    inputs = processor(text=[prompt], images=[rgb], padding=True, return_tensors="pt").to(device)
    with torch.no_grad():
        logits = network(**inputs).logits
    logits = logits.reshape(1, 1, *logits.shape[-2:])
    probability = torch.nn.functional.interpolate(logits.sigmoid(), size=rgb.shape[:2], mode="bilinear")[0, 0]
    return largest_component(probability.cpu().numpy() > 0.5)
