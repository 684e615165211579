"""The UNet both miniature priors train: Stable Diffusion's UNet2DConditionModel, three levels, on small latents."""

from __future__ import annotations


def miniature_unet(in_channels: int, width: int):
    """A UNet whose widest channels and cross-attention are ``width`` wide, predicting 4 latent channels from
    ``in_channels`` (4 for Stable Diffusion; 8 for Zero-1-to-3, the photo's latents beside the noisy ones)."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(width // 2, width, width),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=width,
        attention_head_dim=8,
        norm_num_groups=8,
    )
