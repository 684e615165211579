"""Registers our dataparsers with nerfstudio (``nerfstudio.dataparser_configs`` entry points).

Kept apart from the method configs: nerfstudio discovers dataparsers while it imports its datamanager module, so this
module must not import a datamanager itself.
"""

from __future__ import annotations

from nerfstudio.plugins.registry_dataparser import DataParserSpecification

from lolnerf_ns.data.collection_dataparser import LOLNeRFCollectionDataParserConfig
from lolnerf_ns.data.transforms_dataparser import LOLNeRFTransformsDataParserConfig

lolnerf_transforms_dataparser = DataParserSpecification(
    config=LOLNeRFTransformsDataParserConfig(),
    description="A transforms.json of single views of many instances of one class, with known cameras (LOLNeRF).",
)

lolnerf_collection_dataparser = DataParserSpecification(
    config=LOLNeRFCollectionDataParserConfig(),
    description="A folder of single-view photos of one class; cameras fitted to five landmarks per photo (LOLNeRF).",
)
