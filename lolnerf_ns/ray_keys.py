"""The ray metadata keys that choose which latent code a LOLNeRF ray renders.

The model reads them (in the order :mod:`lolnerf_ns.model` gives); the dataparsers write the index of each camera's
instance, the lift an explicit code. They are the model's keys, kept in a module of their own so that the model does
not import a dataparser for them nor the dataparsers the model.
"""

LATENT_INDEX_KEY = "latent_index"
"""Camera (and so ray) metadata holding the row of the latent table that renders it."""

LATENT_CODE_KEY = "latent_code"
"""Ray metadata holding an explicit latent code per ray; it wins over every other way of choosing the code."""
