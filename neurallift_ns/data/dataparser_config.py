"""Registers our dataparsers with nerfstudio (``nerfstudio.dataparser_configs`` entry points).

Kept apart from the method configs: nerfstudio discovers dataparsers while it imports its datamanager module, so this
module must not import a datamanager itself.
"""

from __future__ import annotations

from nerfstudio.plugins.registry_dataparser import DataParserSpecification

from neurallift_ns.data.photo_dataparser import NeuralLiftPhotoDataParserConfig

neurallift_photo_dataparser = DataParserSpecification(
    config=NeuralLiftPhotoDataParserConfig(),
    description="One photo of an object (NeuralLift-360's input), seen from a front-facing reference camera.",
)
