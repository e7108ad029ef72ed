"""Whole numbers as users and HTTP clients type them."""
from __future__ import annotations


def is_whole_number(text: str) -> bool:
    """Whether `text` is ASCII digits only: `str.isdigit` also takes '²' and other digits that `int` refuses."""
    return text.isascii() and text.isdigit()
