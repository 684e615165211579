"""The model's viewer controls: found by nerfstudio's viewer, working in a real viser server, harmless without one."""

from __future__ import annotations

import socket

import pytest
import torch
from nerfstudio.viewer.utils import parse_object
from nerfstudio.viewer.viewer_elements import ViewerElement

from lift_testing.lolnerf_models import make_model, rays
from lolnerf_ns.model import NO_INTERPOLATION


def test_viewer_controls_are_found_by_the_viewer_and_work_without_one() -> None:
    model = make_model()
    model.eval()
    elements = {element.name for _, element in parse_object(model, ViewerElement, "Custom Elements")}
    assert elements == {"Identity", "Interpolate to", "Interpolation", "Sample new identity"}
    table = model.latent_table.weight
    model.viewer_identity.value = "b.png"
    model.viewer_interpolate_to.value = "c.png"
    model.viewer_interpolation.value = 0.5
    model._on_viewer_change()  # what the viewer calls when a control changes
    torch.testing.assert_close(model.ray_latents(rays(1))[0], (table[1] + table[2]) / 2)
    sampled = model.sample_new_identity()  # the sample button
    assert sampled == "sample:0" and sampled in model.viewer_identity.options
    model.viewer_interpolate_to.value = NO_INTERPOLATION
    model._on_viewer_change()
    torch.testing.assert_close(model.ray_latents(rays(1))[0], model.identity_code("sample:0"))


@pytest.fixture
def viser_server():
    import viser

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = viser.ViserServer(host="127.0.0.1", port=port)
    yield server
    server.stop()


def test_controls_drive_renders_in_a_running_viewer(viser_server) -> None:
    model = make_model()
    model.eval()
    for _, element in parse_object(model, ViewerElement, "Custom Elements"):
        element.install(viser_server)  # what nerfstudio's viewer does with each element it finds
    table = model.latent_table.weight
    torch.testing.assert_close(model.ray_latents(rays(1))[0], table[0])  # starts at the first identity, a.png
    model.viewer_identity.gui_handle.value = "c.png"  # a user picks an identity
    torch.testing.assert_close(model.ray_latents(rays(1))[0], table[2])
    model.viewer_interpolate_to.gui_handle.value = "a.png"
    model.viewer_interpolation.gui_handle.value = 0.25
    torch.testing.assert_close(model.ray_latents(rays(1))[0], 0.75 * table[2] + 0.25 * table[0])
    model.viewer_sample.cb_hook(model.viewer_sample)  # a click on "Sample new identity"
    assert "sample:0" in model.viewer_identity.gui_handle.options and model.viewer_identity.value == "sample:0"
