"""Preparing real photos: MediaPipe landmarks and masks on a face, a cat that is no face, a user landmarks file."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage import data

from lift_common.errors import UserInputError
from lolnerf_ns.data.collection import CollectionConfig, prepare_collection
from lolnerf_ns.data.collection_cache import CACHE_FOLDER_NAME
from lolnerf_ns.data.landmarks import read_landmarks_file

CHELSEA_LANDMARKS = [[150.0, 120.0], [265.0, 110.0], [212.0, 175.0], [185.0, 205.0], [245.0, 200.0]]
"""Rough eyes, nose and mouth corners of scikit-image's cat, in pixels of the 451x300 photo."""


@pytest.fixture
def faces(tmp_path: Path) -> Path:
    """scikit-image's astronaut, a mirrored copy and a closer crop (three instances), and its cat (no face)."""
    folder = tmp_path / "faces"
    folder.mkdir()
    astronaut = data.astronaut()
    Image.fromarray(astronaut).save(folder / "astronaut.png")
    Image.fromarray(astronaut[:, ::-1].copy()).save(folder / "astronaut_mirrored.png")
    Image.fromarray(astronaut[20:480, 0:460]).save(folder / "astronaut_close.jpg")
    Image.fromarray(data.chelsea()).save(folder / "chelsea.png")
    return folder


def test_faces_get_landmarks_masks_and_cameras(faces: Path, capsys) -> None:
    prepared = prepare_collection(faces, CollectionConfig(max_image_side=128))
    assert sorted(f["file"] for f in prepared.frames) == [
        "astronaut.png",
        "astronaut_close.jpg",
        "astronaut_mirrored.png",
    ]
    assert prepared.cameras["skipped"] == [{"file": "chelsea.png", "reason": "no face found"}]
    row, frame = next((row, f) for row, f in enumerate(prepared.frames) if f["file"] == "astronaut.png")
    left_eye, right_eye, nose, mouth_left, mouth_right = np.array(frame["landmarks"])
    # Where the face is in scikit-image's astronaut, scaled from 512 to 128 pixels.
    assert left_eye == pytest.approx([51, 25.6], abs=3) and right_eye == pytest.approx([61.8, 26.1], abs=3)
    assert left_eye[0] < nose[0] < right_eye[0] and mouth_left[0] < mouth_right[0]
    assert max(left_eye[1], right_eye[1]) < nose[1] < min(mouth_left[1], mouth_right[1]) + 1
    assert prepared.store.names[row] == "astronaut.png" and prepared.store.image(row).shape == (128, 128, 3)
    mask = prepared.store.mask(row) == 1
    assert mask.shape == (128, 128) and 0.3 < mask.mean() < 0.8 and mask[int(nose[1]), int(nose[0])]
    assert all(f["residual_px"] < 0.03 * 128 for f in prepared.frames)
    out = capsys.readouterr().out
    assert "chelsea.png" in out and "no face found" in out  # the table of photos not used
    assert "resized to 128x128" in out


@pytest.mark.slow
def test_faces_prepared_by_a_pool_of_workers_match_one_process(faces: Path, tmp_path: Path, monkeypatch) -> None:
    from lolnerf_ns.data import collection

    copy = tmp_path / "copy"
    shutil.copytree(faces, copy)
    alone = prepare_collection(faces, CollectionConfig(max_image_side=128, num_workers=1))
    monkeypatch.setattr(collection, "PHOTOS_PER_CHUNK", 1)  # four chunks: MediaPipe runs in two worker processes
    pooled = prepare_collection(copy, CollectionConfig(max_image_side=128, num_workers=2))
    assert len(list((pooled.folder / "chunks").glob("*.json"))) == 4
    assert [f["file"] for f in pooled.frames] == [f["file"] for f in alone.frames]
    assert pooled.cameras["skipped"] == alone.cameras["skipped"] == [{"file": "chelsea.png", "reason": "no face found"}]
    for row, (ours, theirs) in enumerate(zip(pooled.frames, alone.frames, strict=True)):
        np.testing.assert_allclose(ours["landmarks"], theirs["landmarks"], atol=1e-6)
        np.testing.assert_array_equal(pooled.store.image(row), alone.store.image(row))
        np.testing.assert_array_equal(pooled.store.mask(row), alone.store.mask(row))


def test_prepared_collection_is_reused(faces: Path) -> None:
    first = prepare_collection(faces, CollectionConfig(max_image_side=64))
    written = (first.folder / "cameras.json").stat().st_mtime_ns
    again = prepare_collection(faces, CollectionConfig(max_image_side=64))
    assert again.folder == first.folder and (again.folder / "cameras.json").stat().st_mtime_ns == written
    Image.fromarray(data.astronaut()[::2, ::2].copy()).save(faces / "astronaut.png")  # a photo changes
    assert prepare_collection(faces, CollectionConfig(max_image_side=64)).folder != first.folder
    assert sorted(p.name for p in faces.iterdir() if p.name.startswith(".")) == [CACHE_FOLDER_NAME]


def test_cat_with_a_user_landmarks_file(tmp_path: Path) -> None:
    folder = tmp_path / "cats"
    folder.mkdir()
    cat = data.chelsea()
    Image.fromarray(cat).save(folder / "chelsea.png")
    Image.fromarray(cat[:, ::-1].copy()).save(folder / "chelsea_mirrored.png")
    width = cat.shape[1]
    mirrored = [[width - x, y] for x, y in CHELSEA_LANDMARKS]
    mirrored = [mirrored[1], mirrored[0], mirrored[2], mirrored[4], mirrored[3]]  # keep the image-left-first order
    landmarks = {"chelsea.png": CHELSEA_LANDMARKS, "chelsea_mirrored.png": mirrored}
    (folder / "landmarks.json").write_text(json.dumps(landmarks))
    config = CollectionConfig(landmarks_file=folder / "landmarks.json", max_image_side=96)
    prepared = prepare_collection(folder, config)
    assert len(prepared.frames) == 2 and prepared.cameras["mask_source"] == "none"
    assert all("mask" not in f for f in prepared.frames)
    positions = np.array([f["position"] for f in prepared.frames])
    assert positions[0][0] * positions[1][0] < 0  # mirrored photos: cameras on opposite sides of the class's front


def test_chelsea_is_not_a_face(tmp_path: Path) -> None:
    Image.fromarray(data.chelsea()).save(tmp_path / "chelsea.png")
    Image.fromarray(data.coffee()).save(tmp_path / "coffee.png")
    with pytest.raises(
        UserInputError, match=r"Only 0 of the photos .* remain after landmark detection \(2 no face found\)"
    ):
        prepare_collection(tmp_path, CollectionConfig(max_image_side=64))


def test_landmarks_csv_with_a_header(tmp_path: Path) -> None:
    rows = ["image,x1,y1,x2,y2,x3,y3,x4,y4,x5,y5", "a.jpg," + ",".join(str(v) for v in range(10))]
    (tmp_path / "points.csv").write_text("\n".join(rows))
    landmarks = read_landmarks_file(tmp_path / "points.csv")
    np.testing.assert_array_equal(landmarks["a.jpg"], np.arange(10).reshape(5, 2))


def test_photos_dropped_in_a_later_round_are_refitted_without(tmp_path: Path, monkeypatch) -> None:
    """Dropping the worst photo can leave another beyond the limit in the next fit; that one is dropped too, and the
    fit returned is always of exactly the photos kept (cameras.json and cameras.npz are written from it)."""
    from lolnerf_ns.data import collection_fit
    from lolnerf_ns.data.camera_fit import CameraFit
    from lolnerf_ns.data.collection_record import write_cameras

    # A stand-in fit whose residuals grow as photos are dropped: photo 0 is poor in the first fit, photo 1 only in
    # the second, none in the third. Each photo is known by the first coordinate of its landmarks.
    base_residuals = np.array([20.0, 4.0] + [1.0] * 8)

    def fit_growing_stricter(landmarks, size, focal_length=None):
        photos = landmarks[:, 0, 0].astype(int)
        dropped = len(base_residuals) - len(photos)
        return CameraFit(
            np.zeros((5, 3)), np.zeros((len(photos), 3, 4)), 100.0, base_residuals[photos] * (1 + 0.5 * dropped)
        )

    monkeypatch.setattr(collection_fit, "fit_canonical_keypoints", fit_growing_stricter)
    landmarks = np.zeros((10, 5, 2))
    landmarks[:, 0, 0] = np.arange(10)
    names = [f"p{index}.png" for index in range(10)]
    config = CollectionConfig(max_residual_fraction=5.0 / 100)  # 5 px for 100 px wide photos
    skipped: list = []
    fit, kept = collection_fit.fit_and_drop(landmarks, names, (100, 100), config, skipped, tmp_path)

    assert kept.tolist() == list(range(2, 10))
    assert len(fit.camera_to_world) == len(fit.residual_px) == len(kept) and (fit.residual_px <= 5.0).all()
    assert [name for name, _ in skipped] == ["p0.png", "p1.png"]
    write_cameras(tmp_path, fit, [names[i] for i in kept], landmarks[kept], (100, 100), skipped, "none")
    assert [frame["file"] for frame in json.loads((tmp_path / "cameras.json").read_text())["frames"]] == names[2:]
