"""Cameras from five 2D landmarks per image: canonical 3D keypoints shared by the class, and a pose per image.

LOLNeRF estimates cameras by fitting one set of canonical 3D keypoints and a camera per image to the detected 2D
landmarks; its code was never released, so this is our implementation of that idea:

1. **Initialise** every camera by PnP (OpenCV) against a mean-face template, at a shared focal length.
2. **Jointly refine** the canonical keypoints and all poses (and the focal length, if asked) with scipy's
   ``least_squares`` (trust-region reflective, robust soft-L1 loss). We chose scipy over a batched torch
   Levenberg-Marquardt because its sparse Jacobian (each residual depends on 15 canonical values, 6 pose values and
   the focal length) makes a 1,000-image fit a few seconds on a CPU, with a well-tested robust loss and no solver code
   of our own.
3. **Fix the gauge**: a similarity transform (Umeyama) takes the keypoints onto the template, so the object sits at
   the origin inside [-1, 1]^3, +Z up, its front looking along -Y (towards the azimuth-0 camera of
   :mod:`lift_common.cameras`), at the template's scale.

A collection of more than :data:`JOINT_FIT_MAX_IMAGES` photos (FFHQ has 70,000) is fitted jointly on that many of
its photos, spread evenly over it, and then every camera is solved alone against the fitted keypoints (PnP, as for a
newly lifted photo): the joint fit's time grows faster than the number of photos (about 40 s for 10,000 on a 2-core
CPU), while a few thousand views already pin the 15 keypoint coordinates far more tightly than the landmarks' noise.

Landmarks, in this order, named as they appear in a frontal photo: the eye on the image's left, the eye on the
image's right, the nose tip, the mouth corner on the image's left, the mouth corner on the image's right.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from jaxtyping import Float

from lift_common.cameras import focal_length_from_fov, orbit_camera_to_world

LANDMARK_NAMES = ("left_eye", "right_eye", "nose_tip", "mouth_left", "mouth_right")

MEAN_FACE_TEMPLATE = np.array(
    [
        [-0.25, -0.35, 0.15],  # left eye (image left in a frontal view: world -X)
        [0.25, -0.35, 0.15],  # right eye
        [0.0, -0.55, -0.05],  # nose tip, nearest the front camera
        [-0.20, -0.38, -0.30],  # left mouth corner
        [0.20, -0.38, -0.30],  # right mouth corner
    ],
    dtype=np.float64,
)
"""Canonical keypoints of an average face in world units: +Z up, front towards -Y, head centre at the origin."""

# OpenCV cameras look along +Z with +Y down; nerfstudio's (OpenGL) along -Z with +Y up.
_OPENCV_TO_OPENGL = np.diag([1.0, -1.0, -1.0])


@dataclass
class CameraFit:
    """Result of :func:`fit_canonical_keypoints`, in the fixed gauge."""

    canonical_keypoints: Float[np.ndarray, "5 3"]
    camera_to_world: Float[np.ndarray, "num 3 4"]
    """nerfstudio (OpenGL) camera-to-world matrices."""
    focal_length: float
    """Shared focal length in pixels."""
    residual_px: Float[np.ndarray, "num"]
    """Root-mean-square reprojection error of each image's landmarks, in pixels."""


def _rotate(rotation_vectors: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Rotate ``points`` [N, K, 3] by axis-angle ``rotation_vectors`` [N, 3] (Rodrigues), vectorised."""
    angle = np.linalg.norm(rotation_vectors, axis=-1, keepdims=True)[:, None]  # [N, 1, 1]
    axis = rotation_vectors[:, None] / np.maximum(angle, 1e-12)
    cos, sin = np.cos(angle), np.sin(angle)
    return (
        points * cos + np.cross(axis, points) * sin + axis * np.sum(axis * points, axis=-1, keepdims=True) * (1.0 - cos)
    )


def project(
    keypoints: np.ndarray, rotation_vectors: np.ndarray, translations: np.ndarray, focal: float, principal: np.ndarray
) -> np.ndarray:
    """OpenCV pinhole projection of shared ``keypoints`` [K, 3] into N cameras: [N, K, 2] pixels."""
    camera_points = _rotate(rotation_vectors, np.broadcast_to(keypoints, (len(rotation_vectors), *keypoints.shape)))
    camera_points = camera_points + translations[:, None]
    return focal * camera_points[..., :2] / camera_points[..., 2:3] + principal


def _initial_poses(landmarks: np.ndarray, focal: float, principal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import cv2

    intrinsics = np.array([[focal, 0, principal[0]], [0, focal, principal[1]], [0, 0, 1]], dtype=np.float64)
    rotations, translations = [], []
    for points in landmarks:
        ok, rvec, tvec = cv2.solvePnP(
            MEAN_FACE_TEMPLATE, points.astype(np.float64), intrinsics, None, flags=cv2.SOLVEPNP_EPNP
        )
        if ok:
            ok, rvec, tvec = cv2.solvePnP(
                MEAN_FACE_TEMPLATE,
                points.astype(np.float64),
                intrinsics,
                None,
                rvec,
                tvec,
                True,
                cv2.SOLVEPNP_ITERATIVE,
            )
        if not ok or tvec[2, 0] <= 0:  # PnP failed or put the face behind the camera: start in front of the face
            rvec, tvec = _frontal_pose(focal, principal)
        rotations.append(rvec[:, 0])
        translations.append(tvec[:, 0])
    return np.array(rotations), np.array(translations)


def _frontal_pose(focal: float, principal: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV pose (rotation vector [3, 1], translation [3, 1]) of the camera that sees the template's front: the
    azimuth-0, elevation-0 camera of :mod:`lift_common.cameras`, on -Y looking at the head centre with +Z up.

    Its distance is the nearest at which the sphere around the head centre through the farthest keypoint fits the
    image's narrower half-angle, so whatever the focal length every keypoint lies in front of the camera and projects
    inside the image.
    """
    import cv2

    radius = np.linalg.norm(MEAN_FACE_TEMPLATE, axis=1).max()
    half_angle = np.arctan(min(principal) / focal)
    zero = torch.zeros(1, dtype=torch.float64)
    camera_to_world = orbit_camera_to_world(zero, zero, zero + radius / np.sin(half_angle))[0].numpy()
    world_to_camera = (camera_to_world[:, :3] @ _OPENCV_TO_OPENGL).T  # to OpenCV axes: the flip is its own inverse
    rvec, _ = cv2.Rodrigues(world_to_camera)
    return rvec, -world_to_camera @ camera_to_world[:, 3:]


def _umeyama(source: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Scale, rotation, translation minimising |s R source + t - target|^2 (Umeyama 1991)."""
    source_mean, target_mean = source.mean(0), target.mean(0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    sign = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(singular) @ sign) / source_centred.var(0).sum()
    return scale, rotation, target_mean - scale * rotation @ source_mean


JOINT_FIT_MAX_IMAGES = 2000
"""Most photos in the joint fit; larger collections get their other cameras by PnP (see the module docstring)."""


def fit_canonical_keypoints(
    landmarks: Float[np.ndarray, "num 5 2"],
    image_size: tuple[int, int],
    focal_length: float | None = None,
    initial_focal_length: float | None = None,
    robust_scale_px: float = 1.0,
    template_weight: float = 1e-2,
) -> CameraFit:
    """Fit canonical keypoints and every image's camera to the landmarks: jointly, or for large collections jointly
    on :data:`JOINT_FIT_MAX_IMAGES` of them and then camera by camera (see the module docstring).

    Args:
        landmarks: Pixel coordinates of each image's five landmarks, in :data:`LANDMARK_NAMES` order.
        image_size: Width and height shared by all images, in pixels.
        focal_length: Fixed shared focal length in pixels; ``None`` estimates it.
        initial_focal_length: Where the estimate starts (default: a 20-degree field of view).
        robust_scale_px: Reprojection error, in pixels, beyond which the soft-L1 loss grows linearly.
        template_weight: Weight of a weak pull of the keypoints towards the mean-face template, which removes the
            fit's gauge freedom during optimisation (the gauge is then fixed exactly afterwards).
    """
    landmarks = np.asarray(landmarks, dtype=np.float64)
    fit_options = dict(initial_focal_length=initial_focal_length, robust_scale_px=robust_scale_px)
    if len(landmarks) <= JOINT_FIT_MAX_IMAGES:
        return _joint_fit(landmarks, image_size, focal_length, template_weight=template_weight, **fit_options)
    subset = np.linspace(0, len(landmarks) - 1, JOINT_FIT_MAX_IMAGES).round().astype(int)
    shared = _joint_fit(landmarks[subset], image_size, focal_length, template_weight=template_weight, **fit_options)
    camera_to_world, residual_px = _cameras_by_pnp(
        landmarks, shared.canonical_keypoints, image_size, shared.focal_length
    )
    return CameraFit(shared.canonical_keypoints, camera_to_world, shared.focal_length, residual_px)


def _joint_fit(
    landmarks: Float[np.ndarray, "num 5 2"],
    image_size: tuple[int, int],
    focal_length: float | None,
    initial_focal_length: float | None,
    robust_scale_px: float,
    template_weight: float,
) -> CameraFit:
    from scipy.optimize import least_squares
    from scipy.sparse import coo_matrix

    num = len(landmarks)
    width, height = image_size
    principal = np.array([width / 2.0, height / 2.0])
    estimate_focal = focal_length is None
    focal0 = focal_length or initial_focal_length or focal_length_from_fov(20.0, width)
    rotations, translations = _initial_poses(landmarks, focal0, principal)

    def unpack(params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
        keypoints = params[:15].reshape(5, 3)
        poses = params[15 : 15 + 6 * num].reshape(num, 6)
        focal = float(np.exp(params[-1])) * focal0 if estimate_focal else focal0
        return keypoints, poses[:, :3], poses[:, 3:], focal

    def residuals(params: np.ndarray) -> np.ndarray:
        keypoints, rotation_vectors, translation, focal = unpack(params)
        error = project(keypoints, rotation_vectors, translation, focal, principal) - landmarks
        prior = (
            template_weight * robust_scale_px * (keypoints - MEAN_FACE_TEMPLATE) * focal0 / translations[:, 2].mean()
        )
        return np.concatenate([error.ravel(), prior.ravel()])

    # Sparsity: image i's 10 residuals depend on the keypoints, its own 6 pose values, and the focal length; the 15
    # prior residuals each on one keypoint value.
    num_params = 15 + 6 * num + (1 if estimate_focal else 0)
    residual_rows = np.arange(10 * num)
    pose_columns = 15 + 6 * (residual_rows // 10)[:, None] + np.arange(6)
    blocks = [
        (np.repeat(residual_rows, 15), np.tile(np.arange(15), 10 * num)),
        (np.repeat(residual_rows, 6), pose_columns.ravel()),
        (10 * num + np.arange(15), np.arange(15)),
    ]
    if estimate_focal:
        blocks.append((residual_rows, np.full(10 * num, num_params - 1)))
    rows, columns = (np.concatenate(parts) for parts in zip(*blocks, strict=True))
    sparsity = coo_matrix((np.ones(len(rows), np.int8), (rows, columns)), shape=(10 * num + 15, num_params)).tocsr()

    start = [MEAN_FACE_TEMPLATE.ravel(), np.concatenate([rotations, translations], 1).ravel()]
    if estimate_focal:
        start.append(np.zeros(1))
    solution = least_squares(
        residuals,
        np.concatenate(start),
        jac_sparsity=sparsity,
        loss="soft_l1",
        f_scale=robust_scale_px,
        x_scale="jac",
        method="trf",
        max_nfev=200,
    )
    keypoints, rotation_vectors, translation, focal = unpack(solution.x)
    error = project(keypoints, rotation_vectors, translation, focal, principal) - landmarks
    residual_px = np.sqrt(np.mean(np.sum(error**2, -1), -1))

    # Gauge: x_world = s R x_fit + t maps the fitted keypoints onto the template; cameras follow.
    scale, gauge_rotation, gauge_translation = _umeyama(keypoints, MEAN_FACE_TEMPLATE)
    world_to_camera = _rotation_matrices(rotation_vectors)  # x_cam = W x_fit + T
    # x_fit = R^T (x_world - t) / s  =>  x_cam = W R^T x_world / s + (T - W R^T t / s); scale the camera by s.
    camera_rotation = world_to_camera @ gauge_rotation.T
    camera_translation = scale * translation - np.einsum("nij,j->ni", camera_rotation, gauge_translation)
    camera_to_world = np.empty((num, 3, 4))
    camera_to_world[:, :, :3] = np.transpose(camera_rotation, (0, 2, 1)) @ _OPENCV_TO_OPENGL
    camera_to_world[:, :, 3] = -np.einsum("nji,nj->ni", camera_rotation, camera_translation)
    return CameraFit(
        canonical_keypoints=scale * keypoints @ gauge_rotation.T + gauge_translation,
        camera_to_world=camera_to_world,
        focal_length=focal,
        residual_px=residual_px,
    )


@dataclass
class SingleCameraFit:
    """Result of :func:`fit_camera_to_keypoints`."""

    camera_to_world: Float[np.ndarray, "3 4"]
    """nerfstudio (OpenGL) camera-to-world matrix, in the canonical keypoints' world."""
    residual_px: float
    """Root-mean-square reprojection error of the landmarks, in pixels."""


def fit_camera_to_keypoints(
    landmarks: Float[np.ndarray, "5 2"],
    canonical_keypoints: Float[np.ndarray, "5 3"],
    image_size: tuple[int, int],
    focal_length: float,
) -> SingleCameraFit:
    """The camera of one new image, solved against fixed canonical keypoints (lifting a photo into a trained run).

    The keypoints are already in the run's world (the gauge was fixed when the collection was fitted), so only this
    camera's pose is solved: PnP (EPnP, then Levenberg-Marquardt refinement) at the run's focal length and a centred
    principal point, as in the joint fit.
    """
    camera_to_world, residual_px = _cameras_by_pnp(
        np.asarray(landmarks)[None], canonical_keypoints, image_size, focal_length
    )
    return SingleCameraFit(camera_to_world=camera_to_world[0], residual_px=float(residual_px[0]))


def _cameras_by_pnp(
    landmarks: Float[np.ndarray, "num 5 2"],
    canonical_keypoints: Float[np.ndarray, "5 3"],
    image_size: tuple[int, int],
    focal_length: float,
) -> tuple[Float[np.ndarray, "num 3 4"], Float[np.ndarray, "num"]]:
    """Each image's camera alone against fixed keypoints (see :func:`fit_camera_to_keypoints`), and its RMS
    residual in pixels; a camera PnP cannot solve is NaN, with an infinite residual."""
    import cv2

    landmarks = np.asarray(landmarks, dtype=np.float64)
    keypoints = np.asarray(canonical_keypoints, dtype=np.float64)
    principal = np.array([image_size[0] / 2.0, image_size[1] / 2.0])
    # _initial_poses solves against the template; here the class's own keypoints are the 3D points.
    intrinsics = np.array([[focal_length, 0, principal[0]], [0, focal_length, principal[1]], [0, 0, 1]])
    rotation_vectors, translations = np.zeros((len(landmarks), 3)), np.zeros((len(landmarks), 3))
    solved = np.zeros(len(landmarks), dtype=bool)
    for index, points in enumerate(landmarks):
        ok, rvec, tvec = cv2.solvePnP(keypoints, points, intrinsics, None, flags=cv2.SOLVEPNP_EPNP)
        if ok:
            ok, rvec, tvec = cv2.solvePnP(keypoints, points, intrinsics, None, rvec, tvec, True, cv2.SOLVEPNP_ITERATIVE)
        if ok and tvec[2, 0] > 0:
            rotation_vectors[index], translations[index], solved[index] = rvec[:, 0], tvec[:, 0], True
    error = project(keypoints, rotation_vectors, translations, focal_length, principal) - landmarks
    world_to_camera = _rotation_matrices(rotation_vectors)
    camera_to_world = np.empty((len(landmarks), 3, 4))
    camera_to_world[:, :, :3] = np.transpose(world_to_camera, (0, 2, 1)) @ _OPENCV_TO_OPENGL
    camera_to_world[:, :, 3] = -np.einsum("nji,nj->ni", world_to_camera, translations)
    camera_to_world[~solved] = np.nan
    residual_px = np.where(solved, np.sqrt(np.mean(np.sum(error**2, -1), -1)), np.inf)
    return camera_to_world, residual_px


def _rotation_matrices(rotation_vectors: np.ndarray) -> np.ndarray:
    """Axis-angle [N, 3] to rotation matrices [N, 3, 3]."""
    return np.transpose(_rotate(rotation_vectors, np.broadcast_to(np.eye(3), (len(rotation_vectors), 3, 3))), (0, 2, 1))
