"""Novel views sampled from a Zero-1-to-3 folder, loaded by the guidance's own code: how a prior is checked on its
own before any lift uses it.

DDIM sampling (Song et al. 2021, deterministic, ``eta`` 0) with classifier-free guidance whose unconditional branch
zeroes the photo's latents and the projected conditioning, as the guidance does.
"""

from __future__ import annotations

from pathlib import Path

import torch
from jaxtyping import Float
from torch import Tensor


class Zero123Sampler:
    """A Zero-1-to-3 folder loaded once (in float32 on the CPU), to sample views of many photos."""

    def __init__(self, model_folder: Path) -> None:
        from diffusers import DDIMScheduler

        from neurallift_ns.guidance.zero123 import Zero123, Zero123LoadOptions

        self.model = Zero123(Zero123LoadOptions(model=str(model_folder), half_precision=False), "cpu")
        self.scheduler = DDIMScheduler.from_pretrained(model_folder, subfolder="scheduler")

    @torch.no_grad()
    def sample_views(
        self,
        photo: Float[Tensor, "3 H W"],
        photo_position: Float[Tensor, "3"],
        positions: Float[Tensor, "views 3"],
        resolution: int,
        guidance_scale: float = 3.0,
        steps: int = 50,
        seed: int = 0,
    ) -> Float[Tensor, "views 3 H W"]:
        """Views of the photo's object from cameras at ``positions`` (the photo's at ``photo_position``), in [0, 1]."""
        from neurallift_ns.guidance import score_distillation as sds
        from neurallift_ns.guidance.relative_camera import relative_camera

        model = self.model
        embedding, photo_latents = model.photo_conditioning(photo[None], resolution)
        cameras = relative_camera(positions, photo_position, model.camera_embedding)
        conditioning = model.camera_conditioning(embedding, cameras)
        num = len(positions)
        photo_latents = photo_latents.expand(num, -1, -1, -1)
        self.scheduler.set_timesteps(steps)
        generator = torch.Generator().manual_seed(seed)
        latents = torch.randn((num, *photo_latents.shape[1:]), generator=generator)
        for timestep in self.scheduler.timesteps:
            timesteps = torch.full((2 * num,), int(timestep))
            both = model.predict_noise(
                torch.cat([latents, latents]),
                timesteps,
                torch.cat([photo_latents, torch.zeros_like(photo_latents)]),
                torch.cat([conditioning, torch.zeros_like(conditioning)]),
            )
            conditional, unconditional = both.chunk(2)
            noise = sds.classifier_free_guidance(unconditional, conditional, guidance_scale)
            latents = self.scheduler.step(noise, timestep, latents).prev_sample
        return model.decode_latents(latents)
