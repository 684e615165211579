"""Watches the balance of prior against photo: the norms of their gradients on the rendered pixels, and their ratio.

On a reference step the gradient that reaches the rendered pixels is the photo loss's; on a sampled step it is the
prior's. Their norms, read in the backward pass and unscaled from mixed precision, and once both kinds of step have
happened their ratio ``prior_photo_gradient_ratio``, show a user which one is winning. Every logged step carries all
three, whichever kind of step it is: the latest of the other kind is carried over.
"""

from __future__ import annotations

import torch
from jaxtyping import Float
from torch import Tensor


class PriorBalanceMonitor:
    """Logs the pixel gradients' norms of photo and prior, and their ratio; see the module docstring."""

    def __init__(self) -> None:
        self.grad_scaler = None
        """The trainer's loss scaler (``get_scale``, ``is_enabled``), to unscale the gradients; None: unscaled."""
        self._latest_norms: dict[str, Tensor] = {}  # the latest of each kind of step, for their ratio
        self._unread_ratio: Tensor | None = None

    def watch(self, rgb: Float[Tensor, "rays 3"], is_reference: bool, metrics_dict: dict) -> None:
        """Put this step's numbers in ``metrics_dict``: zeros now, filled in when the backward pass reaches ``rgb``
        (the rendered pixels)."""
        kind = "photo" if is_reference else "guidance"
        current = torch.zeros((), device=rgb.device)
        norms = {**self._latest_norms, kind: current}
        for name, norm in norms.items():
            metrics_dict[f"pixel_gradient_norm/{name}"] = norm
        ratio = torch.zeros((), device=rgb.device) if len(norms) == 2 else None
        if ratio is not None:
            metrics_dict["prior_photo_gradient_ratio"] = ratio
        scaler = self.grad_scaler

        def record(gradient: Tensor) -> None:
            with torch.no_grad():
                scale = scaler.get_scale() if scaler is not None and scaler.is_enabled() else 1.0
                current.copy_(gradient.float().norm() / scale)
                self._latest_norms[kind] = current
                if ratio is not None:
                    ratio.copy_(norms["guidance"] / norms["photo"].clamp(min=1e-12))
                    self._unread_ratio = ratio

        rgb.register_hook(record)

    def take_new_ratio(self) -> float | None:
        """The ratio measured since the last call (for the viewer), or None."""
        ratio, self._unread_ratio = self._unread_ratio, None
        return None if ratio is None else float(ratio)
