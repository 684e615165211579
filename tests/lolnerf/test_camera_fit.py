"""The joint camera fit recovers known poses from noisy landmarks, whatever the order of the images, and starts a
camera whose PnP fails in front of the face."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from lift_common.cameras import orbit_camera_to_world
from lift_testing.synthetic_landmarks import (
    FOCAL,
    SIZE,
    landmarks_seen_from,
    relative_rotation_errors_deg,
    synthetic_landmarks,
)
from lolnerf_ns.data.camera_fit import (
    LANDMARK_NAMES,
    MEAN_FACE_TEMPLATE,
    _initial_poses,
    fit_camera_to_keypoints,
    fit_canonical_keypoints,
    project,
)


def test_fit_recovers_known_poses() -> None:
    landmarks, truth, focal = synthetic_landmarks(200)
    fit = fit_canonical_keypoints(landmarks, (SIZE, SIZE), focal_length=focal)
    assert np.median(relative_rotation_errors_deg(truth, fit.camera_to_world)) < 2.0
    assert np.median(fit.residual_px) < 1.0


def test_fit_is_the_same_after_shuffling() -> None:
    landmarks, truth, focal = synthetic_landmarks(200, seed=1)
    order = np.random.default_rng(2).permutation(200)
    fit = fit_canonical_keypoints(landmarks[order], (SIZE, SIZE), focal_length=focal)
    assert np.median(relative_rotation_errors_deg(truth[order], fit.camera_to_world)) < 2.0


def test_a_large_collection_fits_its_keypoints_on_a_subset_and_every_camera_alone(monkeypatch) -> None:
    from lolnerf_ns.data import camera_fit

    landmarks, truth, focal = synthetic_landmarks(400, seed=6)
    joint = fit_canonical_keypoints(landmarks, (SIZE, SIZE), focal_length=focal)
    monkeypatch.setattr(camera_fit, "JOINT_FIT_MAX_IMAGES", 100)
    fit = fit_canonical_keypoints(landmarks, (SIZE, SIZE), focal_length=focal)
    assert fit.camera_to_world.shape == (400, 3, 4) and fit.residual_px.shape == (400,)
    np.testing.assert_allclose(fit.canonical_keypoints, joint.canonical_keypoints, atol=0.02)
    assert np.median(relative_rotation_errors_deg(truth, fit.camera_to_world)) < 2.0
    assert np.median(fit.residual_px) < 1.0
    # Cameras in the same world as the joint fit's: the same positions within a few percent of their distance.
    distances = np.linalg.norm(fit.camera_to_world[:, :, 3] - joint.camera_to_world[:, :, 3], axis=1)
    assert np.median(distances / np.linalg.norm(joint.camera_to_world[:, :, 3], axis=1)) < 0.03


def test_gauge_puts_the_object_at_the_origin_facing_minus_y() -> None:
    landmarks, _, focal = synthetic_landmarks(100, seed=3)
    fit = fit_canonical_keypoints(landmarks, (SIZE, SIZE), focal_length=focal)
    assert np.abs(fit.canonical_keypoints).max() < 1.0
    np.testing.assert_allclose(fit.canonical_keypoints, MEAN_FACE_TEMPLATE, atol=0.1)
    # Cameras look at the object from its front half-space (-Y) and from about the true distance.
    positions = fit.camera_to_world[:, :, 3]
    assert (positions[:, 1] < 0).all()
    assert np.median(np.linalg.norm(positions, axis=1)) == pytest.approx(4.0, rel=0.1)


def test_focal_length_can_be_estimated() -> None:
    landmarks, truth, focal = synthetic_landmarks(300, seed=4)
    fit = fit_canonical_keypoints(landmarks, (SIZE, SIZE))
    assert fit.focal_length == pytest.approx(focal, rel=0.15)
    assert np.median(relative_rotation_errors_deg(truth, fit.camera_to_world)) < 2.0


def test_a_new_image_camera_is_solved_against_the_fitted_keypoints() -> None:
    landmarks, truth, focal = synthetic_landmarks(101, seed=5)
    fit = fit_canonical_keypoints(landmarks[:100], (SIZE, SIZE), focal_length=focal)
    new = fit_camera_to_keypoints(landmarks[100], fit.canonical_keypoints, (SIZE, SIZE), focal)
    assert new.residual_px < 1.5
    # The new camera relates to the fitted ones as the true camera relates to the true ones (the gauge cancels).
    both_fitted = np.stack([fit.camera_to_world[0], new.camera_to_world])
    assert relative_rotation_errors_deg(truth[[0, 100]], both_fitted)[1] < 3.0
    distances = np.linalg.norm(fit.camera_to_world[:, :, 3], axis=1)
    assert np.linalg.norm(new.camera_to_world[:, 3]) == pytest.approx(np.median(distances), rel=0.1)


def test_a_camera_whose_pnp_fails_starts_in_front_of_the_face(monkeypatch) -> None:
    import cv2

    # The template seen from its front (azimuth 0, elevation 0), where PnP succeeds: the pose a fallback should match.
    frontal = orbit_camera_to_world(torch.zeros(1), torch.zeros(1), torch.full((1,), 4.0)).numpy()
    landmarks = landmarks_seen_from(frontal, MEAN_FACE_TEMPLATE)
    focal, principal = FOCAL, np.array([SIZE / 2, SIZE / 2])
    solved = _initial_poses(landmarks, focal, principal)
    monkeypatch.setattr(cv2, "solvePnP", lambda *args, **kwargs: (False, None, None))
    fallback = _initial_poses(landmarks, focal, principal)

    index = {name: i for i, name in enumerate(LANDMARK_NAMES)}
    for rotations, translations in (solved, fallback):
        depth = (Rotation.from_rotvec(rotations[0]).apply(MEAN_FACE_TEMPLATE) + translations[0])[:, 2]
        pixels = project(MEAN_FACE_TEMPLATE, rotations, translations, focal, principal)[0]
        assert (depth > 0).all() and ((pixels > 0) & (pixels < SIZE)).all()  # in front of the camera, in the image
        assert depth.argmin() == index["nose_tip"]  # the camera faces the front
        # Named as in a frontal photo: the left eye and mouth corner on the image's left, eyes above the mouth.
        assert pixels[index["left_eye"], 0] < pixels[index["right_eye"], 0]
        assert pixels[index["mouth_left"], 0] < pixels[index["mouth_right"], 0]
        assert pixels[[index["left_eye"], index["right_eye"]], 1].max() < pixels[index["mouth_left"], 1]
    difference = Rotation.from_rotvec(fallback[0][0]) * Rotation.from_rotvec(solved[0][0]).inv()
    assert np.degrees(difference.magnitude()) < 2.0
