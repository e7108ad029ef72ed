"""The one exception type the CLI turns into a single clear line on stderr."""


class UserError(Exception):
    """A problem with what the user gave us (a path, a file, an option), not a bug in vidcolor."""
