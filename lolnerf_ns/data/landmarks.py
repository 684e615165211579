"""Five 2D landmarks per image: detected on faces with MediaPipe Face Mesh, or read from the user's file.

MediaPipe's face-mesh model ships inside the ``mediapipe`` wheel and runs offline. Of its 468 points we use the
centres of the two eyes (the mean of each eye's two corners), the nose tip and the two mouth corners.

A landmarks file gives the same five points for other classes (cats, cars: whatever five points the user annotates, in
a fixed order, the same for every image), as JSON::

    {"cat_001.jpg": [[x, y], [x, y], [x, y], [x, y], [x, y]], ...}

or CSV, one image per row, with an optional header::

    image,x1,y1,x2,y2,x3,y3,x4,y4,x5,y5
    cat_001.jpg,101.5,88.0,...

Coordinates are pixels of the original image, x to the right, y down.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from jaxtyping import Bool, Float, UInt8

from lift_common.errors import UserInputError
from lift_common.user_files import finite_array, read_json

# Face-mesh vertex indices of each landmark, in LANDMARK_NAMES order (image-left eye corners, image-right eye corners,
# nose tip, image-left mouth corner, image-right mouth corner).
FACE_MESH_INDICES = ((33, 133), (362, 263), (1,), (61,), (291,))


class FaceLandmarkDetector:
    """MediaPipe Face Mesh on still images; one instance reused for a whole collection."""

    def __init__(self) -> None:
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=False)

    def __call__(self, rgb: UInt8[np.ndarray, "H W 3"]) -> Float[np.ndarray, "5 2"] | None:
        """The five landmarks in pixels, or ``None`` when no face is found."""
        result = self._mesh.process(np.ascontiguousarray(rgb))
        if not result.multi_face_landmarks:
            return None
        points = result.multi_face_landmarks[0].landmark
        height, width = rgb.shape[:2]
        return np.array(
            [
                np.mean([[points[i].x * width, points[i].y * height] for i in group], axis=0)
                for group in FACE_MESH_INDICES
            ]
        )

    def close(self) -> None:
        self._mesh.close()


class SelfieSegmenter:
    """MediaPipe Selfie Segmentation: the person (head and shoulders) against the background."""

    def __init__(self) -> None:
        import mediapipe as mp

        self._segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)

    def __call__(self, rgb: UInt8[np.ndarray, "H W 3"]) -> Bool[np.ndarray, "H W"]:
        return self._segmenter.process(np.ascontiguousarray(rgb)).segmentation_mask > 0.5

    def close(self) -> None:
        self._segmenter.close()


def read_landmarks_file(path: Path) -> dict[str, Float[np.ndarray, "5 2"]]:
    """Image name -> five (x, y) points, from the JSON or CSV format of the module docstring."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"Landmarks file {path} does not exist. Pass a JSON or CSV file with --landmarks.")
    if path.suffix.lower() == ".json":
        content = read_json(path, "Fix the landmarks file (see the documented format).")
        if not isinstance(content, dict):
            raise UserInputError(
                f"{path} holds a {type(content).__name__}; it must map each image name to its 5 (x, y) points, "
                'as {"photo.jpg": [[x1, y1], ..., [x5, y5]]}.'
            )
        entries = list(content.items())
    else:
        try:
            rows = [row for row in csv.reader(path.read_text().splitlines()) if row and row[0].strip()]
            if rows and not _is_number(rows[0][1] if len(rows[0]) > 1 else ""):
                rows = rows[1:]  # header
            entries = [(row[0].strip(), [float(v) for v in row[1:]]) for row in rows]
        except (ValueError, OSError, UnicodeDecodeError) as error:
            raise UserInputError(
                f"{path} could not be read as landmarks ({error}). See the documented format."
            ) from None
    landmarks = {}
    for name, values in entries:
        where = f"{path}: '{name}'"
        try:
            points = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            points = None  # text or ragged lists: finite_array says so
        if points is not None and points.size != 10:
            raise UserInputError(
                f"{where} has {points.size} numbers; every image needs exactly 5 (x, y) points "
                "(10 numbers), in the same order for every image."
            )
        landmarks[name] = finite_array(values if points is None else points.reshape(5, 2), ((5, 2),), where)
    return landmarks


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
