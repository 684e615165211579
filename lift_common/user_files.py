"""Reading the user's JSON files and the numbers in them, or saying in one message which file is wrong and how."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from lift_common.errors import UserInputError


def read_json(path: Path, fix: str) -> Any:
    """The parsed contents of the JSON file ``path``; a missing, unreadable or malformed file raises
    :class:`UserInputError` naming it, with ``fix`` (what the user should do) appended."""
    path = Path(path)
    if not path.is_file():
        raise UserInputError(f"{path} does not exist. {fix}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UserInputError(f"{path} could not be read as text ({error}). {fix}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise UserInputError(
            f"{path} is not valid JSON (line {error.lineno}, column {error.colno}: {error.msg}). {fix}"
        ) from None


def finite_array(values: Any, shapes: tuple[tuple[int, ...], ...], where: str) -> np.ndarray:
    """``values`` as a float64 array of one of ``shapes``; anything else (ragged lists, text, NaN or inf) raises
    :class:`UserInputError` that starts with ``where`` (the file and the entry)."""
    expected = " or ".join("x".join(str(n) for n in shape) for shape in shapes)
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise UserInputError(f"{where} is not a {expected} array of numbers.") from None
    if array.shape not in shapes:
        raise UserInputError(f"{where} is an array of shape {array.shape}; it must be {expected} numbers.")
    if not np.isfinite(array).all():
        raise UserInputError(f"{where} holds NaN or infinite values; every entry must be a finite number.")
    return array


def positive_number(value: Any, where: str) -> float:
    """``value`` as a finite number above zero, or :class:`UserInputError` starting with ``where``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise UserInputError(f"{where} is {value!r}; it must be a positive number.")
    return float(value)
