"""Framing: the object cropped to its mask, centred on a square canvas with a border, at the working resolution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from jaxtyping import Bool, Float, UInt8


@dataclass(frozen=True)
class SquareWindow:
    """A square window in photo pixels (it may reach outside the photo): left, top and side."""

    left: float
    top: float
    side: float


def square_window_around_mask(mask: Bool[np.ndarray, "H W"], border_ratio: float) -> SquareWindow:
    """The square, centred on the mask's bounding box, in which the box's longer side fills ``1 - 2 * border_ratio``."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    top, bottom = rows[0], rows[-1] + 1
    left, right = cols[0], cols[-1] + 1
    extent = max(bottom - top, right - left)
    side = extent / max(1e-6, 1.0 - 2.0 * border_ratio)
    centre_x, centre_y = (left + right) / 2.0, (top + bottom) / 2.0
    return SquareWindow(left=centre_x - side / 2.0, top=centre_y - side / 2.0, side=side)


def crop_to_window(
    image: np.ndarray, window: SquareWindow, size: int, fill: float | tuple[float, ...], interpolation: str
) -> np.ndarray:
    """Resample ``image`` inside ``window`` to ``size`` x ``size``; outside the photo, ``fill``."""
    import cv2

    scale = size / window.side
    # The affine map from photo pixels to output pixels (pixel centres at +0.5 on both sides).
    matrix = np.array([[scale, 0.0, -window.left * scale], [0.0, scale, -window.top * scale]], dtype=np.float64)
    flags = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
    if interpolation == "area" and scale >= 1.0:
        flags = cv2.INTER_LINEAR  # INTER_AREA only makes sense when shrinking
    border_value = fill if isinstance(fill, tuple) else (fill,) * 4
    return cv2.warpAffine(
        image, matrix, (size, size), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=border_value
    )


def frame_object(
    rgb: UInt8[np.ndarray, "H W 3"],
    mask: Bool[np.ndarray, "H W"],
    depth: Float[np.ndarray, "H W"],
    size: int,
    border_ratio: float | None,
) -> tuple[UInt8[np.ndarray, "size size 3"], Bool[np.ndarray, "size size"], Float[np.ndarray, "size size"]]:
    """Crop photo, mask and depth to the same square around the object and resize them to ``size``.

    With ``border_ratio`` None the square is the photo's own, centred: the photo is only padded and resized.
    Outside the photo the canvas is white, the mask empty and the depth the farthest depth seen.
    """
    if border_ratio is None:
        height, width = mask.shape
        side = float(max(height, width))
        window = SquareWindow(left=(width - side) / 2.0, top=(height - side) / 2.0, side=side)
    else:
        window = square_window_around_mask(mask, border_ratio)
    # Downscaling a photo with INTER_AREA avoids aliasing; masks are resampled as coverage then thresholded.
    framed_rgb = crop_to_window(rgb, window, size, (255, 255, 255), "area")
    coverage = crop_to_window(mask.astype(np.float32), window, size, 0.0, "area")
    framed_depth = crop_to_window(depth.astype(np.float32), window, size, float(np.max(depth)), "linear")
    return framed_rgb, coverage >= 0.5, framed_depth
