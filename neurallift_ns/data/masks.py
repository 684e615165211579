"""The object mask of a photo: the user's, the photo's alpha, a segmentation model's, or GrabCut's.

The segmentation model is CLIPSeg through transformers (text-prompted, so it finds "the main object" or whatever the
user names), loaded from a Hub id or a local folder. GrabCut needs no weights: seeded with the photo's border as
background, it separates the object that a photographer centres from its surroundings. Its colour models see three
channels; a grayscale photo has one, so GrabCut is given brightness, local contrast and smoothed brightness instead
(texture separates a cat's fur from a blurred background that has the same grey).
"""

from __future__ import annotations

import numpy as np
from jaxtyping import Bool, UInt8

from lift_common.pretrained import resolve_pretrained

GRABCUT_BORDER = 0.05
"""Fraction of the photo's width and height, at each edge, that GrabCut takes as sure background."""
GRAYSCALE_SPREAD = 8
"""A photo whose channels differ by at most this (of 255) at 99% of pixels has no colour (JPEG chroma noise aside)."""
TEXTURE_SIGMA_PX = 4.0
"""Gaussian window of the local contrast and smoothing, in pixels of GrabCut's (at most 512 px) image."""


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
    bgr = np.ascontiguousarray(grayscale_features(small[..., 0]) if is_grayscale(small) else small[..., ::-1])
    cv2.grabCut(bgr, labels, None, background_model, foreground_model, iterations, cv2.GC_INIT_WITH_MASK)
    foreground = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    foreground = cv2.resize(foreground, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    return largest_component(foreground)


def is_grayscale(rgb: UInt8[np.ndarray, "H W 3"]) -> bool:
    """Whether the photo's three channels carry one grey value per pixel."""
    spread = rgb.max(axis=-1).astype(np.int16) - rgb.min(axis=-1)
    return float(np.percentile(spread, 99)) <= GRAYSCALE_SPREAD


def grayscale_features(gray: UInt8[np.ndarray, "H W"]) -> UInt8[np.ndarray, "H W 3"]:
    """Brightness, local contrast (standard deviation in a Gaussian window) and smoothed brightness, each stretched
    over 0-255: three channels that tell object from background in a photo without colour."""
    import cv2

    brightness = gray.astype(np.float32)
    mean = cv2.GaussianBlur(brightness, (0, 0), TEXTURE_SIGMA_PX)
    contrast = np.sqrt(np.maximum(cv2.GaussianBlur(brightness**2, (0, 0), TEXTURE_SIGMA_PX) - mean**2, 0.0))
    return np.dstack([_stretch(brightness), _stretch(contrast), _stretch(mean)])


def _stretch(values: np.ndarray) -> np.ndarray:
    low, high = np.percentile(values, (1, 99))
    return np.clip((values - low) * (255.0 / max(float(high - low), 1e-6)), 0, 255).astype(np.uint8)


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
