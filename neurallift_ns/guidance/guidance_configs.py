"""The priors ``ns-train neurallift`` can be given, chosen on the command line as nerfstudio chooses a dataparser
(``nerfstudio/configs/dataparser_configs.py``): one tyro subcommand per prior, whose options follow its name without
the ``--pipeline.model.guidance.`` prefix::

    ns-train neurallift --data photo.png                            # stable-diffusion, the default
    ns-train neurallift --data photo.png zero123                    # Zero-1-to-3 / Stable Zero123
    ns-train neurallift --data photo.png joint --stable-diffusion.prompt "a mug"  # Magic123: both
    ns-train neurallift zero123 --diffusion.model /path/to/model    # a prior's options come after its name
    ns-train neurallift zero123 --help                              # and are listed there

Adding a prior touches its own module and :data:`GUIDANCE_CONFIGS`; the model sees only
:class:`~neurallift_ns.guidance.base.Guidance`.
"""

from __future__ import annotations

import tyro

from neurallift_ns.guidance.base import GuidanceConfig
from neurallift_ns.guidance.joint_guidance import JointGuidanceConfig
from neurallift_ns.guidance.stable_diffusion_guidance import StableDiffusionGuidanceConfig
from neurallift_ns.guidance.zero123_guidance import Zero123GuidanceConfig

GUIDANCE_CONFIGS: dict[str, GuidanceConfig] = {
    "stable-diffusion": StableDiffusionGuidanceConfig(),
    "zero123": Zero123GuidanceConfig(),
    "joint": JointGuidanceConfig(),
}
"""Each prior's subcommand name and defaults."""

GUIDANCE_DESCRIPTIONS = {
    "stable-diffusion": "Stable Diffusion with CLIP guidance toward the photo (NeuralLift-360).",
    "zero123": "Zero-1-to-3 / Stable Zero123: a prior given the photo and each view's camera.",
    "joint": "Magic123: Zero-1-to-3 and Stable Diffusion with the photo's learnt token together.",
}
"""One line on each prior, for ns-train's list of subcommands."""

GuidanceUnion = tyro.extras.subcommand_type_from_defaults(
    GUIDANCE_CONFIGS, descriptions=GUIDANCE_DESCRIPTIONS, prefix_names=False
)
AnnotatedGuidanceUnion = tyro.conf.OmitSubcommandPrefixes[GuidanceUnion]
"""The choice of prior, for a config field: subcommands named as in :data:`GUIDANCE_CONFIGS`, their options without
the field's prefix."""


def option_prefix(config: GuidanceConfig) -> str:
    """What comes before one of ``config``'s options on ns-train's command line (``"zero123 --"``), so a message can
    name the option to change."""
    for name, default in GUIDANCE_CONFIGS.items():
        if type(default) is type(config):
            return f"{name} --"
    return "--pipeline.model.guidance."
