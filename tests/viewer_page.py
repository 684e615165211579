"""nerfstudio's viewer page in headless Chromium (Debian's ``chromium``), driven with Playwright as a person uses it.

Playwright only drives the system Chromium (``executable_path``); its own browser downloads are never used.
"""

from __future__ import annotations

import contextlib
import io
import math
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

CHROMIUM = shutil.which("chromium")
"""Debian's Chromium (``scripts/install.sh --dev`` installs it), or None."""

CHROMIUM_FLAGS = [
    "--no-sandbox",  # tests may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    # WebGL on the CPU through ANGLE's SwiftShader backend. Chromium 156 still falls back to it without these two
    # flags, but newer versions only do so when asked.
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
]

VIEWPORT = {"width": 800, "height": 600}
"""Browser window: nerfstudio's panel takes the right 320 px, the 3D view the rest."""

VISER_INITIAL_DISTANCE = math.sqrt(27.0)
"""viser 0.2.7 opens every client with its camera at (3, 3, 3) in viser units, looking at the origin."""
VISER_INITIAL_AZIMUTH_DEG = 135.0
"""That camera's azimuth in :mod:`lift_common.cameras`'s convention (0 on -Y, 90 on +X)."""
VISER_INITIAL_ELEVATION_DEG = math.degrees(math.asin(1 / math.sqrt(3.0)))
EMPTY_VIEW_RGB = (20, 20, 20)
"""The 3D view's colour before any frame (viser's default background)."""
WHEEL_PIXELS_PER_FACTOR_095 = 100.0
"""camera-controls (viser's orbit controls, dolly speed 0.3) scales the distance by 0.95 per 100 px of wheel."""


def warm_and_background_fractions(image: np.ndarray) -> tuple[float, float]:
    """Fractions of an RGB screenshot's pixels that are warm-coloured (object) and near-white (model's background).

    Warm: red clearly above green and blue (red-brown coffee cup, orange ball); near-white: bright and grey, the
    white our models composite renders on. Neither matches the viewer's own page, which is dark grey, nor an empty
    3D view (rgb(20, 20, 20)), so both fractions are zero until the model's render is on screen.
    """
    rgb = image[..., :3].astype(np.int32)
    red, green, blue = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    warm = (red - blue >= 60) & (red - green >= 25)
    background = (rgb.min(axis=-1) >= 225) & (rgb.max(axis=-1) - rgb.min(axis=-1) <= 25)
    return float(warm.mean()), float(background.mean())


class ViewerPage:
    """One browser tab on a running nerfstudio viewer."""

    def __init__(self, page) -> None:
        self.page = page

    def _panel_line(self, prefix: str) -> str:
        lines = [line for line in self.page.inner_text("body").splitlines() if line.startswith(prefix)]
        return lines[0] if lines else ""

    def resolution(self) -> str:
        """Size of the last frame the viewer sent, e.g. ``55x64px``; ``0x0px`` before the first one."""
        return self._panel_line("Resolution:").removeprefix("Resolution:").strip()

    def set_max_resolution(self, pixels: int) -> None:
        """Type into the "Max res" box: the largest image height the viewer renders (64 is the slider's minimum)."""
        self._type_into("Max res", pixels)

    def panel_labels(self) -> list[str]:
        """The lines of text on the viewer's panel (control labels, button texts, ...), as the page shows them."""
        return [line.strip() for line in self.page.inner_text("body").splitlines() if line.strip()]

    def output_options(self) -> list[str]:
        """The choices of the "Output type" dropdown (filled in from the model's outputs after the first frame)."""
        dropdown = self.page.get_by_label("Output type", exact=True)
        dropdown.click()
        options = self.page.get_by_role("option")
        options.first.wait_for()
        names = [name.strip() for name in options.all_inner_texts()]
        self.page.keyboard.press("Escape")
        return names

    def scene_node_names(self) -> list[str]:
        """Names of the 3D scene's nodes under ``/cameras``, read from viser's scene tree ("Connection & diagnostics").

        Each training camera nerfstudio draws is a node ``/cameras/camera_<index>``.
        """
        settings = self.page.locator("svg.tabler-icon-adjustments").locator("xpath=ancestor::button[1]")
        settings.click()
        self.page.get_by_text("Scene tree", exact=True).wait_for()
        self.page.get_by_text("/cameras", exact=True).click()  # expands the folder
        self.page.get_by_text(re.compile(r"^/cameras/camera_\d+$")).first.wait_for()
        names = [text.strip() for text in self.page.get_by_text(re.compile(r"^/cameras/camera_\d+$")).all_inner_texts()]
        self.page.locator("svg.tabler-icon-arrow-back").locator("xpath=ancestor::button[1]").click()
        return names

    def hide_training_cameras(self) -> None:
        """Press "Hide Train Cams", so the camera frustums (and the photos on them) leave the 3D view.

        The button is shared by every tab on the viewer: an earlier visitor may have pressed it already.
        """
        show = self.page.get_by_role("button", name="Show Train Cams")
        if not show.is_visible():
            self.page.get_by_role("button", name="Hide Train Cams").click()
        show.wait_for()

    def wait_until_laid_out(self, timeout: float = 30.0) -> None:
        """Wait for the panel to finish sliding open (half a second, longer on a busy machine): until then the 3D
        view changes size and clicks can land on the wrong control."""
        deadline = time.monotonic() + timeout
        previous = None
        while time.monotonic() < deadline:
            width = self._viewport_box()["width"]
            if width == previous:
                return
            previous = width
            time.sleep(0.5)

    def unscroll(self) -> None:
        """Scroll every element back to its left edge.

        Screenshots of the busiest runs showed the page scrolled sideways by a few dozen pixels (the panel's hidden
        "expand" button, parked past the right edge, in view), which moves the 3D view under the mouse.
        """
        self.page.evaluate(
            "() => { for (const e of [document.scrollingElement, ...document.querySelectorAll('*')])"
            " { if (e && e.scrollLeft) e.scrollLeft = 0; } }"
        )

    def _viewport_box(self) -> dict[str, float]:
        box = self.page.locator("canvas[data-engine^='three.js']").bounding_box()
        assert box is not None, "the viewer's 3D view is not on the page"
        return box

    def _type_into(self, label: str, value: float) -> None:
        """Type a value into the number box beside the slider labelled ``label`` (on the tab shown)."""
        row = f"//label[text()='{label}']/ancestor::div[contains(@class,'mantine-Flex-root')][1]"
        box = self.page.locator(f"xpath={row}//input[@inputmode='numeric']")
        box.fill(str(value))
        box.press("Enter")

    def look_from(self, azimuth_deg: float, elevation_deg: float, distance: float) -> None:
        """Orbit and dolly the viewer's camera with the mouse, to look at the origin from these angles and distance.

        From viser's initial camera, the orbit controls turn the camera by 360 degrees per view height dragged (left
        raises the azimuth, down the elevation) and move it out by a factor 1/0.95 per 100 px of wheel. ``distance``
        is in the scene's units, which the viewer draws 10 times larger (nerfstudio's ``VISER_NERFSTUDIO_SCALE_RATIO``).
        """
        from nerfstudio.viewer.viewer import VISER_NERFSTUDIO_SCALE_RATIO

        self.unscroll()
        box = self._viewport_box()
        centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        drag_x = -(azimuth_deg - VISER_INITIAL_AZIMUTH_DEG) / 360.0 * box["height"]
        drag_y = (elevation_deg - VISER_INITIAL_ELEVATION_DEG) / 360.0 * box["height"]
        mouse = self.page.mouse
        mouse.move(centre_x, centre_y)
        mouse.down()
        mouse.move(centre_x + drag_x, centre_y + drag_y, steps=5)
        mouse.up()
        factor = distance * VISER_NERFSTUDIO_SCALE_RATIO / VISER_INITIAL_DISTANCE
        mouse.move(centre_x, centre_y)
        mouse.wheel(0, WHEEL_PIXELS_PER_FACTOR_095 * math.log(factor) / math.log(1 / 0.95))

    def viewport_image(self) -> np.ndarray:
        """A screenshot of the 3D view alone, as an RGB array."""
        from PIL import Image

        self.unscroll()
        png = self.page.screenshot(clip=self._viewport_box())
        return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))

    def wait_for_first_frame(self, timeout: float) -> None:
        """Wait until the 3D view shows a frame from the server, not just its empty dark background.

        The server renders once the page has sent its camera, which it does once its orbit controls are up: only
        then do mouse drags turn the view (on a busy machine that takes seconds after the panel appears).
        """
        deadline = time.monotonic() + timeout
        while True:
            image = self.viewport_image().astype(np.int32)
            rendered = float((np.abs(image - EMPTY_VIEW_RGB).max(axis=-1) > 10).mean())
            if self.resolution() not in ("", "0x0px") and rendered > 0.5:
                return
            assert time.monotonic() < deadline, f"no frame after {timeout} s (resolution {self.resolution()})"
            time.sleep(0.5)

    def wait_for_object(
        self, min_warm: float, min_background: float, timeout: float
    ) -> tuple[np.ndarray, float, float]:
        """Screenshot the 3D view until a rendered frame shows the object on its background; return the last shot and
        its warm and background fractions (the caller asserts on them, so a timeout reports what was on screen)."""
        deadline = time.monotonic() + timeout
        while True:
            image = self.viewport_image()
            warm, background = warm_and_background_fractions(image)
            if (warm >= min_warm and background >= min_background) or time.monotonic() > deadline:
                return image, warm, background
            time.sleep(1.0)


@contextlib.contextmanager
def viewer_page(url: str, profile: Path, viewport: dict[str, int] = VIEWPORT) -> Iterator[ViewerPage]:
    """Open ``url`` in headless Chromium with a fresh profile folder, wait for the viewer's panel, and always close
    the browser."""
    from playwright.sync_api import sync_playwright

    assert CHROMIUM is not None, "Debian's chromium is not installed"
    with sync_playwright() as playwright:
        # Playwright adds --headless and --user-data-dir=<profile> to CHROMIUM_FLAGS.
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS, viewport=viewport
        )
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.set_default_timeout(60_000)
            page.goto(url)
            page.get_by_text("Max res", exact=True).wait_for()  # the server's panel has arrived over the websocket
            viewer = ViewerPage(page)
            viewer.wait_until_laid_out()
            yield viewer
        finally:
            context.close()
