"""Errors that are the user's to fix: one readable message, a non-zero exit, no traceback."""

from __future__ import annotations


class UserInputError(SystemExit):
    """A problem with the user's input or set-up, explained in one message.

    It subclasses ``SystemExit`` so that an ``ns-*`` command that meets it prints the message and exits with status 1
    instead of a traceback, while library callers and tests can still catch it by type.
    """

    def __init__(self, message: str) -> None:
        super().__init__(f"Error: {message}")
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        # Rebuilt from the message alone when it crosses processes (a preparation's worker raised it).
        return type(self), (self.message,)
