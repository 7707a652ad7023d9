"""The one exception type for bad input: its message names the input, the value and the rule."""


class SwsError(ValueError):
    """A user-facing error; the CLI prints its message on one line and exits with code 2."""
