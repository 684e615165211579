"""One photo made ready for LOLNeRF: resized to the working size, with its five landmarks and its mask there.

Both the preparation of a collection (:mod:`lolnerf_ns.data.collection_chunks`, one worker's chunk of photos) and the
lift of a new photo into a trained run (:mod:`lolnerf_ns.lift`) prepare their photos here, so a lifted photo is seen
as the training photos were: area-resized, its landmarks found by the same MediaPipe Face Mesh on the resized pixels
(or given in the photo's own pixels and scaled), its mask thresholded the same way, and its camera fit held to the
same limit (:func:`poorly_fitted`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from jaxtyping import Bool, Float, UInt8

from lift_common.errors import UserInputError
from lift_common.images import load_mask, load_photo, read_photo_size

MAX_RESIDUAL_FRACTION = 0.03
"""Default limit of a camera fit: a photo whose landmarks reproject worse than this fraction of the image width (RMS)
is poorly fitted (LOLNeRF's faces fit within about 1% of the width; 3% leaves room for annotated classes)."""

MASK_THRESHOLD = 0.5
"""A pixel of a resized mask is on the object where at least half of the pixels it was averaged from are."""


def residual_limit_px(width: int, max_residual_fraction: float = MAX_RESIDUAL_FRACTION) -> float:
    """The largest RMS landmark residual, in pixels, of a well-fitted camera of an image ``width`` pixels wide."""
    return max_residual_fraction * width


def poorly_fitted(residual_px: np.ndarray | float, limit_px: float) -> np.ndarray | bool:
    """Whether each camera fit is beyond ``limit_px`` (an unsolved fit, with a NaN or infinite residual, is)."""
    return ~(np.asarray(residual_px) <= limit_px)


class UnreadablePhotoError(UserInputError):
    """The photo itself cannot be read: a collection leaves it out, a lift stops with the message."""


@dataclass
class PreparedPhoto:
    """A photo at the working size, as training sees it."""

    image: UInt8[np.ndarray, "H W 3"]
    landmarks: Float[np.ndarray, "5 2"] | None
    """The five landmarks in pixels of ``image``; ``None`` when none were given and no face was found."""
    mask: Bool[np.ndarray, "H W"] | None
    """True on the object; ``None`` when the photo has none (or has no landmarks: its mask is not made)."""
    stored_size: tuple[int, int]
    """Width and height of the photo as loaded, before resizing."""


class PhotoPreparer:
    """Prepares photos one at a time at one working size; MediaPipe's models are made once, when first needed, and
    closed by :meth:`close` (or at the end of a ``with`` block)."""

    def __init__(self, size: tuple[int, int], segment_faces: bool = False) -> None:
        self.size = size
        """Width and height every photo is resized to."""
        self.segment_faces = segment_faces
        """Mask a photo that has no other mask with MediaPipe Selfie Segmentation (a person's head and shoulders)."""
        self._detector = None
        self._segmenter = None

    def __call__(
        self,
        path: Path,
        landmarks: Float[np.ndarray, "5 2"] | None = None,
        landmarks_size: tuple[int, int] | None = None,
        mask_file: Path | None = None,
        alpha_is_mask: bool = False,
    ) -> PreparedPhoto:
        """``path`` resized to the working size, with its landmarks and mask there.

        Landmarks are ``landmarks`` scaled from pixels of an image ``landmarks_size`` (width, height; default: the
        photo's size as stored in its file) to the working size, else detected by MediaPipe Face Mesh. The mask is
        ``mask_file``'s, else the photo's alpha if ``alpha_is_mask`` and it has a transparent part, else (with
        ``segment_faces``) MediaPipe Selfie Segmentation's, else ``None``. An unreadable photo raises
        :class:`UnreadablePhotoError`; an unreadable mask, or one of another shape, a
        :class:`~lift_common.errors.UserInputError`.
        """
        import cv2

        width, height = self.size
        try:
            pixels = load_photo(path)
        except UserInputError as error:
            raise UnreadablePhotoError(error.message) from None
        image = pixels[..., :3]
        stored_size = (image.shape[1], image.shape[0])
        resized = (
            image
            if stored_size == (width, height)
            else cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        )
        if landmarks is not None:
            given_width, given_height = landmarks_size or read_photo_size(path)
            points = np.asarray(landmarks) * np.array([width / given_width, height / given_height])
        else:
            points = self._detect(resized)
            if points is None:
                return PreparedPhoto(resized, None, None, stored_size)
        if mask_file is not None:
            mask = self._resized_mask(load_mask(mask_file, image.shape[:2], photo_name=path.name))
        elif alpha_is_mask and pixels.shape[-1] == 4 and pixels[..., 3].min() < 255:
            mask = self._resized_mask(pixels[..., 3] > 127)
        elif self.segment_faces:
            mask = self._segment(resized)
        else:
            mask = None
        return PreparedPhoto(resized, points, mask, stored_size)

    def _resized_mask(self, mask: Bool[np.ndarray, "h w"]) -> Bool[np.ndarray, "H W"]:
        import cv2

        return cv2.resize(mask.astype(np.float32), self.size, interpolation=cv2.INTER_AREA) >= MASK_THRESHOLD

    def _detect(self, rgb: UInt8[np.ndarray, "H W 3"]) -> Float[np.ndarray, "5 2"] | None:
        if self._detector is None:
            from lolnerf_ns.data.landmarks import FaceLandmarkDetector

            self._detector = FaceLandmarkDetector()
        return self._detector(rgb)

    def _segment(self, rgb: UInt8[np.ndarray, "H W 3"]) -> Bool[np.ndarray, "H W"]:
        if self._segmenter is None:
            from lolnerf_ns.data.landmarks import SelfieSegmenter

            self._segmenter = SelfieSegmenter()
        return self._segmenter(rgb)

    def close(self) -> None:
        for model in (self._detector, self._segmenter):
            if model is not None:
                model.close()
        self._detector = self._segmenter = None

    def __enter__(self) -> PhotoPreparer:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
