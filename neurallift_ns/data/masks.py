"""The object mask of a photo: the user's, the photo's alpha, a segmentation model's, or an offline method's.

The segmentation model is CLIPSeg through transformers (text-prompted, so it finds "the main object" or whatever the
user names), loaded from a Hub id or a local folder. The offline methods need no weights and are tried in turn until
one gives a mask (:func:`offline_mask_candidates`). GrabCut, seeded with the photo's border as background, separates
the object that a photographer centres from its surroundings. Its colour models see three channels; a grayscale photo
has one, so GrabCut is first given brightness, local contrast and smoothed brightness (texture separates a cat's fur
from a blurred background that has the same grey), then brightness alone (a flat-toned object has no texture to tell
it by). Last comes a threshold on how far each pixel is from the border's tone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

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


GrabCutInput = Literal["auto", "colour", "texture", "brightness"]
"""What GrabCut's colour models see: the photo's colours, brightness with local contrast and smoothed brightness, or
brightness alone; auto is colour for a colour photo and texture for a grayscale one."""


def grabcut_mask(
    rgb: UInt8[np.ndarray, "H W 3"], iterations: int = 5, features: GrabCutInput = "auto"
) -> Bool[np.ndarray, "H W"]:
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
    cv2.setRNGSeed(0)  # GrabCut starts its colour models by k-means on OpenCV's global RNG: same photo, same mask
    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    if features == "auto":
        features = "texture" if is_grayscale(small) else "colour"
    if features == "colour":
        bgr = np.ascontiguousarray(small[..., ::-1])
    else:
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY)
        bgr = grayscale_features(gray) if features == "texture" else np.repeat(gray[..., None], 3, axis=-1)
    cv2.grabCut(bgr, labels, None, background_model, foreground_model, iterations, cv2.GC_INIT_WITH_MASK)
    foreground = np.isin(labels, (cv2.GC_FGD, cv2.GC_PR_FGD)).astype(np.uint8)
    foreground = cv2.resize(foreground, (width, height), interpolation=cv2.INTER_NEAREST).astype(bool)
    return largest_component(foreground)


def border_contrast_mask(rgb: UInt8[np.ndarray, "H W 3"]) -> Bool[np.ndarray, "H W"]:
    """Pixels far from the border's tone (Otsu's threshold on the colour distance to the border's median), largest
    region kept: an object on a plain background, whatever its texture."""
    import cv2

    pixels = rgb.astype(np.float32)
    border = np.zeros(rgb.shape[:2], bool)
    border_y = max(1, round(rgb.shape[0] * GRABCUT_BORDER))
    border_x = max(1, round(rgb.shape[1] * GRABCUT_BORDER))
    border[:border_y], border[-border_y:], border[:, :border_x], border[:, -border_x:] = (True,) * 4
    distance = np.linalg.norm(pixels - np.median(pixels[border], axis=0), axis=-1)
    scaled = np.clip(distance * (255.0 / max(float(distance.max()), 1e-6)), 0, 255).astype(np.uint8)
    _, foreground = cv2.threshold(scaled, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return largest_component(foreground.astype(bool))


def offline_mask_candidates(rgb: UInt8[np.ndarray, "H W 3"]) -> Iterator[tuple[Bool[np.ndarray, "H W"], str]]:
    """The offline methods' masks, each computed only when asked for, in the order they are tried, with their names."""
    if is_grayscale(rgb):
        yield grabcut_mask(rgb, features="texture"), "GrabCut on brightness and texture"
        yield grabcut_mask(rgb, features="brightness"), "GrabCut on brightness"
    else:
        yield grabcut_mask(rgb, features="colour"), "GrabCut"
        yield grabcut_mask(rgb, features="texture"), "GrabCut on brightness and texture"
    yield border_contrast_mask(rgb), "contrast with the border"


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
