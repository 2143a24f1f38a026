"""The one exception type for user-facing errors (bad input, missing or corrupt files).

`OccusegError` subclasses ValueError so library callers can catch either; the CLI prints its
message as one line and exits with status 2.
"""


class OccusegError(ValueError):
    """A problem with the user's input, files or configuration; the message names it."""
