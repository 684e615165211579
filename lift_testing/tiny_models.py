"""Tiny randomly initialised models saved in the real on-disk formats, loaded by the same code as a Hub id.

Nothing here downloads: configs, weights, tokenizer vocabularies and processor settings are all written by the tests.
"""

from __future__ import annotations

from pathlib import Path

import torch


def _byte_symbols() -> list[str]:
    """The 256 printable symbols byte-level BPE uses for bytes (GPT-2's table: printable bytes map to themselves)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    symbols, extra = {}, 0
    for byte in range(256):
        if byte in printable:
            symbols[byte] = chr(byte)
        else:
            symbols[byte] = chr(256 + extra)
            extra += 1
    return list(symbols.values())


def save_tiny_clip_tokenizer(folder: Path) -> Path:
    """A byte-level BPE CLIP tokenizer with every byte and a handful of merges, saved with ``save_pretrained``."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    vocab_tokens = symbols + [symbol + "</w>" for symbol in symbols]
    merges = [("t", "h"), ("th", "e</w>"), ("o", "b"), ("ob", "j"), ("a", "i"), ("m", "ai")]
    vocab_tokens += ["".join(pair) for pair in merges] + ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(vocab_tokens))}
    CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77).save_pretrained(folder)
    return folder


def save_tiny_depth_anything(folder: Path, seed: int = 0) -> Path:
    """A Depth Anything model (DINOv2 backbone + DPT head) with a few thousand random weights, and its processor."""
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(seed)
    backbone = Dinov2Config(
        image_size=28,
        patch_size=14,
        hidden_size=16,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=32,
        out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=16,
        neck_hidden_sizes=[8, 8, 8, 8],
        fusion_hidden_size=8,
        head_hidden_size=8,
        patch_size=14,
    )
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(
        do_resize=True, size={"height": 28, "width": 28}, keep_aspect_ratio=False, ensure_multiple_of=14
    ).save_pretrained(folder)
    return folder


def save_tiny_clipseg(folder: Path, seed: int = 0) -> Path:
    """A CLIPSeg model with tiny text and vision towers, and its processor (CLIP tokenizer + image processor)."""
    from transformers import (
        CLIPImageProcessor,
        CLIPSegConfig,
        CLIPSegForImageSegmentation,
        CLIPSegProcessor,
        CLIPTokenizer,
    )

    torch.manual_seed(seed)
    tokenizer = CLIPTokenizer.from_pretrained(save_tiny_clip_tokenizer(folder / "tokenizer"))
    text = {"vocab_size": len(tokenizer), "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2}
    text.update({"num_attention_heads": 2, "max_position_embeddings": 32, "projection_dim": 16})
    vision = {"image_size": 32, "patch_size": 8, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2}
    vision.update({"num_attention_heads": 2, "projection_dim": 16})
    config = CLIPSegConfig(
        text_config=text, vision_config=vision, projection_dim=16, extract_layers=[0, 1], reduce_dim=8
    )
    CLIPSegForImageSegmentation(config).save_pretrained(folder)
    image_processor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    CLIPSegProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def tiny_vae():
    """Stable Diffusion's VAE in miniature: 4 latent channels, one halving of the resolution."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 16),
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        latent_channels=4,
        norm_num_groups=8,
        sample_size=16,
    )


def tiny_unet(in_channels: int):
    """A UNet2DConditionModel on 8x8 latents (4 output channels) that attends to 16-wide conditioning: the text
    encoder's hidden states in Stable Diffusion, the projected photo embedding and camera in Zero-1-to-3."""
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=8,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=16,
        attention_head_dim=4,
        norm_num_groups=8,
    )


def save_tiny_stable_diffusion(folder: Path, seed: int = 0) -> Path:
    """A Stable Diffusion pipeline (UNet, VAE, CLIP text encoder, tokenizer, DDPM scheduler) with tiny random weights.

    The VAE halves the resolution once and the UNet works on 8x8 latents of 16x16 images.
    """
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    torch.manual_seed(seed)
    tokenizer = CLIPTokenizer.from_pretrained(save_tiny_clip_tokenizer(folder / "tiny-tokenizer"))
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=16,
            intermediate_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
        )
    )
    unet = tiny_unet(in_channels=4)
    return save_stable_diffusion_layout(
        folder, vae=tiny_vae(), text_encoder=text_encoder, tokenizer=tokenizer, unet=unet
    )


def save_stable_diffusion_layout(folder: Path, *, vae, text_encoder, tokenizer, unet) -> Path:
    """Save the parts as a Stable Diffusion repository holds them (``StableDiffusionPipeline.save_pretrained``), with
    Stable Diffusion 1.5's noise schedule (:func:`stable_diffusion_scheduler`), and no safety checker: what
    ``--diffusion.model`` loads. Tiny random models, full-size random ones and trained miniature priors are all
    written through here."""
    from diffusers import StableDiffusionPipeline

    scheduler = stable_diffusion_scheduler()
    StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    ).save_pretrained(folder)
    return folder


def stable_diffusion_scheduler():
    """Stable Diffusion 1.5's noise schedule: scaled linear betas 0.00085 to 0.012 over 1000 steps, no clipping."""
    from diffusers import DDPMScheduler

    return DDPMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1
    )


def save_tiny_open_clip(folder: Path, seed: int = 0) -> Path:
    """An open_clip CLIP with tiny towers, as a Hub repository holds it: ``open_clip_config.json`` and the weights."""
    import json

    import open_clip

    torch.manual_seed(seed)
    model_config = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 2, "width": 32, "head_width": 16, "patch_size": 8},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 16, "heads": 2, "layers": 1},
    }
    model = open_clip.CLIP(**model_config)
    folder.mkdir(parents=True, exist_ok=True)
    preprocess = {"mean": [0.48145466, 0.4578275, 0.40821073], "std": [0.26862954, 0.26130258, 0.27577711]}
    config = {"model_cfg": model_config, "preprocess_cfg": preprocess}
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=2))
    torch.save(model.state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


def save_zero123_folder(
    folder: Path, vae, unet, image_encoder, feature_extractor, scheduler, projection, layout: str = "kxic"
) -> Path:
    """A Zero-1-to-3 model's parts saved in the diffusers layout its Hub repositories hold.

    ``layout``: ``"kxic"`` writes the camera projection as kxic/zero123-xl holds it (``cc_projection/``, weights
    ``projection.*`` in safetensors, a config without sizes); ``"threestudio"`` as threestudio's conversion script
    writes it (``clip_camera_projection/``, weights ``proj.*`` in fp16, a pickled ``.bin``).
    """
    import json

    from safetensors.torch import save_file

    for name, part in (("vae", vae), ("unet", unet), ("image_encoder", image_encoder)):
        part.save_pretrained(folder / name)
    feature_extractor.save_pretrained(folder / "feature_extractor")
    scheduler.save_pretrained(folder / "scheduler")
    if layout == "kxic":
        name, prefix = "cc_projection", "projection"
        config = {"_class_name": "CCProjection", "_diffusers_version": "0.18.2"}
    else:
        name, prefix = "clip_camera_projection", "proj"
        config = {
            "_class_name": "CLIPCameraProjection",
            "embedding_dim": projection.out_features,
            "additional_embeddings": projection.in_features - projection.out_features,
        }
    (folder / name).mkdir(parents=True)
    (folder / name / "config.json").write_text(json.dumps(config))
    state = {f"{prefix}.weight": projection.weight.detach(), f"{prefix}.bias": projection.bias.detach()}
    if layout == "kxic":
        save_file(state, str(folder / name / "diffusion_pytorch_model.safetensors"))
    else:
        torch.save({key: value.half() for key, value in state.items()}, folder / name / "diffusion_pytorch_model.bin")
    index = {
        "_class_name": "Zero1to3StableDiffusionPipeline",
        "_diffusers_version": "0.18.2",
        name: ["pipeline_zero1to3", "CCProjection"],
        "feature_extractor": ["transformers", "CLIPImageProcessor"],
        "image_encoder": ["transformers", "CLIPVisionModelWithProjection"],
        "scheduler": ["diffusers", "DDIMScheduler"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    (folder / "model_index.json").write_text(json.dumps(index, indent=2))
    return folder


def zero123_scheduler():
    """The DDIM scheduler Zero-1-to-3's repositories ship (SD 1.x's noise schedule)."""
    from diffusers import DDIMScheduler

    return DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        clip_sample=False,
        set_alpha_to_one=False,
        steps_offset=1,
    )


def save_tiny_zero123(folder: Path, seed: int = 0, projection_layout: str = "kxic") -> Path:
    """A Zero-1-to-3 model in diffusers layout with tiny random weights: VAE, an 8-input-channel UNet, a CLIP vision
    tower with projection, its image processor, a DDIM scheduler, and the camera projection (in ``projection_layout``,
    see :func:`save_zero123_folder`). As in the real models, the UNet's cross-attention width equals the CLIP
    projection's width, and the camera adds 4 numbers."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    torch.manual_seed(seed)
    vae = tiny_vae()
    unet = tiny_unet(in_channels=8)  # the noisy latents and the photo's, side by side
    width = unet.config.cross_attention_dim
    vision = CLIPVisionConfig(
        image_size=32,
        patch_size=8,
        hidden_size=16,
        intermediate_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        projection_dim=width,
    )
    image_encoder = CLIPVisionModelWithProjection(vision)
    feature_extractor = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    projection = torch.nn.Linear(width + 4, width)
    return save_zero123_folder(
        folder, vae, unet, image_encoder, feature_extractor, zero123_scheduler(), projection, projection_layout
    )
