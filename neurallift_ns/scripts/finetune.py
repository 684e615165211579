"""``ns-neurallift-finetune``: adapt Stable Diffusion to a photo (textual inversion) before training on it.

Learns a new token for the photo's object and saves its embedding; ``ns-train neurallift`` then uses it with
``stable-diffusion --learned-embedding``. (``stable-diffusion --adapt-to-photo True`` does the same
inside ``ns-train``.) Interrupted runs resume from their last saved state when run again with the same settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tyro
from nerfstudio.utils.rich_utils import CONSOLE

from lift_common.device import default_device_type
from neurallift_ns.data.preprocess import PreprocessConfig
from neurallift_ns.guidance.stable_diffusion import StableDiffusionLoadOptions
from neurallift_ns.guidance.textual_inversion import TextualInversionConfig


@dataclass
class FinetuneCommand:
    """Learn a token for the object in a photo (textual inversion of Stable Diffusion) for ns-train neurallift."""

    data: tyro.conf.Positional[Path]
    """The photo, or a folder holding it (and optionally mask.png), as given to ns-train neurallift --data."""
    output: Path | None = None
    """Where the learnt embedding is saved (default: beside the photo, <photo>.learned_embeds.safetensors)."""
    textual_inversion: tyro.conf.OmitArgPrefixes[TextualInversionConfig] = field(default_factory=TextualInversionConfig)
    """Token, initializer word, steps, learning rate and augmentations."""
    diffusion: StableDiffusionLoadOptions = field(default_factory=StableDiffusionLoadOptions)
    """The Stable Diffusion model to adapt (use the one ns-train will use)."""
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    """How the object is cut out of the photo (the same settings as ns-train's, so the cache is shared)."""
    device: str = ""
    """Device to train on (default: CUDA when available, else CPU)."""

    def main(self) -> None:
        from lift_common.images import composite_on_white
        from neurallift_ns.data.preprocess import preprocess_photo
        from neurallift_ns.guidance.stable_diffusion import StableDiffusion
        from neurallift_ns.guidance.textual_inversion import train_textual_inversion

        preprocessed = preprocess_photo(self.data, self.preprocess)
        photo = preprocessed.inputs.photo
        output = self.output or photo.with_name(f"{photo.stem}.learned_embeds.safetensors")
        with CONSOLE.status(f"Loading Stable Diffusion ({self.diffusion.model})"):
            diffusion = StableDiffusion(self.diffusion, self.device or default_device_type(), "--diffusion.model")
        image = composite_on_white(preprocessed.image_path)
        train_textual_inversion(diffusion, image, self.textual_inversion, output)
        CONSOLE.print(f"Learnt {self.textual_inversion.token}: {output}")
        CONSOLE.print(
            f"Train with: ns-train neurallift --data {self.data} stable-diffusion --learned-embedding {output}"
        )


def entrypoint() -> None:
    """Entry point of ``ns-neurallift-finetune``."""
    tyro.extras.set_accent_color("bright_yellow")
    tyro.cli(FinetuneCommand).main()


if __name__ == "__main__":
    entrypoint()
