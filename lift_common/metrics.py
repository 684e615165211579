"""Image metrics: PSNR (one definition for training, ``ns-eval``, lifts and tests), and SSIM and LPIPS for
``ns-eval``, kept outside the model's module tree.

nerfstudio's own models build LPIPS in ``populate_modules``: that downloads AlexNet weights the moment a model is
built (so ``ns-train`` fails offline) and puts them into every checkpoint. We build LPIPS on first use, keep it out of
``state_dict``, and report NaN with one warning where its weights cannot be had, so training and export never depend
on them.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from nerfstudio.utils.rich_utils import CONSOLE
from torch import Tensor

MIN_MSE = 1e-10
"""The error below which PSNR stops growing (100 dB): a perfect render reports a number, not infinity, so means over
images stay finite."""


def psnr(prediction: Float[Tensor, "*batch"], truth: Float[Tensor, "*batch"]) -> Float[Tensor, ""]:
    """Peak signal-to-noise ratio in dB of images in [0, 1], over all their elements."""
    mse = torch.mean((prediction.float() - truth.float().to(prediction.device)) ** 2)
    return -10.0 * torch.log10(mse.clamp_min(MIN_MSE))


class ImageQualityMetrics:
    """Image metrics of a render against its ground truth, both ``[H, W, 3]`` in [0, 1]."""

    def __init__(self) -> None:
        self._lpips = None
        self._lpips_unavailable = False

    @staticmethod
    def psnr(gt: Float[Tensor, "H W 3"], pred: Float[Tensor, "H W 3"]) -> float:
        return float(psnr(pred, gt))

    @staticmethod
    def ssim(gt: Float[Tensor, "H W 3"], pred: Float[Tensor, "H W 3"]) -> float:
        from torchmetrics.functional.image import structural_similarity_index_measure

        return float(structural_similarity_index_measure(_nchw(pred), _nchw(gt), data_range=1.0))

    def lpips(self, gt: Float[Tensor, "H W 3"], pred: Float[Tensor, "H W 3"]) -> float:
        """LPIPS (AlexNet), or NaN where its weights cannot be downloaded."""
        if self._lpips_unavailable:
            return float("nan")
        if self._lpips is None:
            from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

            try:
                self._lpips = LearnedPerceptualImagePatchSimilarity(normalize=True)
            except Exception as error:  # torchvision downloads AlexNet; offline that is a URLError or OSError
                self._lpips_unavailable = True
                CONSOLE.log(f"[yellow]LPIPS is reported as NaN: its AlexNet weights could not be loaded ({error}).")
                return float("nan")
        self._lpips = self._lpips.to(pred.device)
        return float(self._lpips(_nchw(pred).clamp(0, 1), _nchw(gt).clamp(0, 1)))

    def all(self, gt: Float[Tensor, "H W 3"], pred: Float[Tensor, "H W 3"]) -> dict[str, float]:
        """``psnr``, ``ssim`` and ``lpips``, the names ``ns-eval`` reports."""
        return {"psnr": self.psnr(gt, pred), "ssim": self.ssim(gt, pred), "lpips": self.lpips(gt, pred)}


def _nchw(image: Float[Tensor, "H W 3"]) -> Float[Tensor, "1 3 H W"]:
    return torch.moveaxis(image, -1, 0)[None]
