"""Text prompts for the diffusion prior: the object's prompt, its learnt token, and the view direction."""

from __future__ import annotations

DEFAULT_SUBJECT = "a photo of the object"
"""What the prompt says when the user gives none and no token was learnt."""


def subject_prompt(prompt: str, token: str | None = None) -> str:
    """The prompt naming the object: the user's, with the learnt token put in front unless the user placed it."""
    prompt = prompt.strip()
    if token is None or token in prompt:
        return prompt or DEFAULT_SUBJECT
    return f"a photo of {token}, {prompt}" if prompt else f"a photo of {token}"


def direction_prompt(subject: str, direction: str) -> str:
    """The prompt for a view from ``direction`` (one of the orbit's direction names)."""
    return f"{subject}, {direction} view"
