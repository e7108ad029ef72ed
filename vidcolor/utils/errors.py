"""The one exception type the CLI turns into a single clear line on stderr, and how its lines show a value."""


class UserError(Exception):
    """A problem with what the user gave us (a path, a file, an option), not a bug in vidcolor."""


def shown(value: object) -> str:
    """A value as a message shows it: whole where short, else its start and an ellipsis (not its start alone, which
    reads as a value of its own, nor all of a number of hundreds of digits)."""
    text = repr(value)
    return text if len(text) <= 24 else text[:20] + "…"
