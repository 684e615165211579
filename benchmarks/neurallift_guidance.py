"""Benchmark: a whole neurallift sampled-view training step with a prior (Stable Diffusion + CLIP, Zero-1-to-3, or
Magic123's joint prior).

Run on demand from the repository root::

    python -m benchmarks.neurallift_guidance [--device cuda] [--resolution 128] [--views 1] [--steps 5]
        [--guidance stable-diffusion|zero123|joint]
        [--diffusion-model stable-diffusion-v1-5/stable-diffusion-v1-5] [--clip-model ViT-B-16]
        [--zero123-model ashawkey/zero123-xl-diffusers]
    python -m benchmarks.neurallift_guidance --random-weights   # SD 1.5- and ViT-B/16-shaped random models
    python -m benchmarks.neurallift_guidance --guidance zero123 --random-weights   # Zero-1-to-3-shaped

One step renders the sampled views with the default field (``--guidance-only``: a stand-in render), runs the
guidance and back-propagates into the field. Stable Diffusion: VAE encode at 512^2, UNet with classifier-free
guidance, decode of the clean estimate and CLIP for the CLIP-guided views, CLIP image loss. Zero-1-to-3: VAE encode
at 256^2 and its UNet (8 input channels) with classifier-free guidance; the photo's CLIP embedding and latents are
computed once, at loading. ``--random-weights`` builds networks of the real shapes with random weights (time and
memory do not depend on the weights' values), saved and loaded through the same code as the real ones, for machines
without the weights. Prints time per step and peak memory (GPU: ``max_memory_allocated``; CPU: peak process RSS).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchmarks.measure import peak_memory_mb, time_steps


def sd15_vae():
    """Stable Diffusion 1.5's VAE (84M parameters; Zero-1-to-3 keeps it), random weights."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        block_out_channels=(128, 256, 512, 512),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    )


def save_random_sd15(folder: Path) -> Path:
    """A Stable Diffusion 1.5-shaped pipeline (UNet 860M, VAE 84M, CLIP ViT-L text encoder 123M), random weights."""
    import torch
    from diffusers import UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from lift_testing.tiny_models import (  # any CLIP tokenizer: only token ids are needed
        save_stable_diffusion_layout,
        save_tiny_clip_tokenizer,
    )

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768, attention_head_dim=8)
    vae = sd15_vae()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12)
    )
    tokenizer = CLIPTokenizer.from_pretrained(save_tiny_clip_tokenizer(folder / "tokenizer-source"))
    save_stable_diffusion_layout(folder, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet)
    return folder


def save_random_open_clip(folder: Path, name: str = "ViT-B-16") -> Path:
    """An open_clip architecture with random weights, saved as a Hub repository holds it."""
    import json

    import open_clip
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": open_clip.get_model_config(name)}))
    torch.save(open_clip.create_model(name).state_dict(), folder / "open_clip_pytorch_model.bin")
    return folder


def save_random_zero123(folder: Path) -> Path:
    """A Zero-1-to-3-shaped model in diffusers layout, random weights: SD 1.5's UNet with 8 input channels (860M),
    its VAE (84M), CLIP ViT-L/14's vision tower with projection (304M) and the 772-to-768 camera projection."""
    import torch
    from diffusers import UNet2DConditionModel
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModelWithProjection

    from lift_testing.tiny_models import save_zero123_folder, zero123_scheduler

    torch.manual_seed(0)
    unet = UNet2DConditionModel(sample_size=32, in_channels=8, cross_attention_dim=768, attention_head_dim=8)
    vision = CLIPVisionConfig(
        hidden_size=1024,
        intermediate_size=4096,
        num_hidden_layers=24,
        num_attention_heads=16,
        image_size=224,
        patch_size=14,
        projection_dim=768,
    )
    return save_zero123_folder(
        folder,
        sd15_vae(),
        unet,
        CLIPVisionModelWithProjection(vision),
        CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}),
        zero123_scheduler(),
        torch.nn.Linear(768 + 4, 768),
    )


def guidance_config(args: argparse.Namespace, work: Path):
    """The prior to time, with the models the arguments name (or random ones of their shapes, saved in ``work``)."""
    from dataclasses import replace

    from neurallift_ns.guidance.joint_guidance import JointGuidanceConfig
    from neurallift_ns.guidance.stable_diffusion import StableDiffusionLoadOptions
    from neurallift_ns.guidance.stable_diffusion_guidance import StableDiffusionGuidanceConfig
    from neurallift_ns.guidance.zero123 import Zero123LoadOptions
    from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig

    diffusion_model, clip_model, zero123_model = args.diffusion_model, args.clip_model, args.zero123_model
    if args.random_weights:
        if args.guidance != "zero123":
            diffusion_model = str(save_random_sd15(work / "sd15"))
            clip_model = str(save_random_open_clip(work / "clip"))
        if args.guidance != "stable-diffusion":
            zero123_model = str(save_random_zero123(work / "zero123"))
    stable_diffusion = StableDiffusionGuidanceConfig(
        diffusion=StableDiffusionLoadOptions(model=diffusion_model, half_precision=not args.fp32),
        clip_model=clip_model,
        clip_pretrained=args.clip_pretrained,
    )
    zero123 = Zero123GuidanceConfig(diffusion=Zero123LoadOptions(model=zero123_model, half_precision=not args.fp32))
    if args.guidance == "stable-diffusion":
        return stable_diffusion
    if args.guidance == "zero123":
        return zero123
    joint = JointGuidanceConfig()
    return replace(
        joint,
        zero123=replace(joint.zero123, diffusion=zero123.diffusion),
        stable_diffusion=replace(
            joint.stable_diffusion,
            diffusion=stable_diffusion.diffusion,
            clip_model=clip_model,
            clip_pretrained=args.clip_pretrained,
            adapt_to_photo=False,  # textual inversion is a one-off before training, not part of a step
        ),
    )


def run(args: argparse.Namespace, work: Path) -> None:
    """Time the steps; ``work`` holds the photo and, with ``--random-weights``, the saved networks (GBs)."""
    import torch
    from nerfstudio.data.scene_box import SceneBox
    from PIL import Image
    from skimage import data

    from neurallift_ns.data.orbit_views import (
        OrbitViewsConfig,
        ReferenceView,
        orbit_cameras,
        sample_orbit_views,
        view_major_rays,
    )
    from neurallift_ns.model import NeuralLiftModelConfig

    device = args.device
    photo = work / "image.png"
    Image.fromarray(data.coffee()).convert("RGBA").resize((256, 256)).save(photo)
    guidance = guidance_config(args, work)
    reference = ReferenceView()
    camera = orbit_cameras(
        torch.zeros(1),
        torch.tensor([reference.elevation_deg]),
        torch.tensor([reference.radius]),
        torch.tensor([reference.fov_deg]),
        1,
    )
    metadata = {"image_path": photo, "reference_camera_to_world": camera.camera_to_worlds[0]}
    scene_box = SceneBox(aabb=torch.tensor([[-1.0] * 3, [1.0] * 3]))
    model = NeuralLiftModelConfig(guidance=guidance).setup(scene_box=scene_box, num_train_data=1, metadata=metadata)
    orbit = guidance.sampled_orbit(OrbitViewsConfig(), reference)  # where the pipeline would take views
    model = model.to(device).train()
    model.step = 1000  # past the albedo-only warm-up: views are shaded as in most of training
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    _ = model.guidance  # loading is not timed
    loaded_gib = peak_memory_mb("cpu") / 1024
    generator = torch.Generator().manual_seed(0)

    def sampled_views(_) -> dict:
        views = sample_orbit_views(args.views, args.resolution, orbit, step=1000, generator=generator)
        return {
            "is_reference": False,
            "cameras": views.cameras.to(device),
            "directions": views.directions,
            "num_views": args.views,
            "image_shape": (args.resolution, args.resolution),
        }

    def training_step(batch: dict) -> None:
        if args.guidance_only:  # a stand-in render: only the prior's cost is measured
            render = torch.rand(args.views, args.resolution, args.resolution, 3, device=device, requires_grad=True)
            shading = torch.randint(0, 3, (args.views,), generator=generator)
            with torch.autocast(device_type=device, enabled=device == "cuda"):
                output = model.guidance(render, batch["cameras"], batch["directions"], shading, model.step)
            output.loss.backward()
        else:
            rays = model.prepare_rays(view_major_rays(batch["cameras"]).flatten(), batch)
            with torch.autocast(device_type=device, enabled=device == "cuda"):
                outputs = model(rays)
                losses = model.get_loss_dict(outputs, batch, {})
            optimizer.zero_grad()
            sum(losses.values()).backward()
            optimizer.step()

    timings = time_steps(args.steps, device, training_step, prepare=sampled_views)
    if device == "cuda":
        peak = f"{peak_memory_mb(device) / 1024:.2f} GiB peak GPU memory (allocated)"
    else:
        peak = f"{peak_memory_mb(device) / 1024:.2f} GiB peak process RSS"
        peak += f" ({loaded_gib:.2f} GiB once the networks were loaded)"
    weights = "random weights of the real shapes" if args.random_weights else "pretrained weights"
    precision = "fp32" if args.fp32 or device == "cpu" else "fp16"
    what = "guidance only" if args.guidance_only else "render + guidance"
    print(f"{args.guidance} on {device}, {weights}, {precision}, {args.views} view(s) of {args.resolution}^2, {what}")
    print(f"{sum(timings) / len(timings):.3f} s/step over {len(timings)} steps; {peak}")


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--resolution", type=int, default=128, help="side of each sampled view")
    parser.add_argument("--views", type=int, default=1, help="sampled views per step")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--guidance", choices=("stable-diffusion", "zero123", "joint"), default="stable-diffusion")
    parser.add_argument("--diffusion-model", default="stable-diffusion-v1-5/stable-diffusion-v1-5")
    parser.add_argument("--zero123-model", default="ashawkey/zero123-xl-diffusers")
    parser.add_argument("--clip-model", default="ViT-B-16")
    parser.add_argument("--clip-pretrained", default="openai")
    parser.add_argument(
        "--random-weights",
        action="store_true",
        help="random networks of the real shapes (SD 1.5, ViT-B-16, Zero-1-to-3)",
    )
    parser.add_argument("--fp32", action="store_true", help="fp32 on CUDA too")
    parser.add_argument("--guidance-only", action="store_true", help="time the prior on a stand-in render")
    args = parser.parse_args()
    # Removed afterwards: random SD 1.5-sized weights take 4.6 GB.
    with tempfile.TemporaryDirectory(prefix="neurallift-guidance-benchmark-") as work:
        run(args, Path(work))


if __name__ == "__main__":
    main()
