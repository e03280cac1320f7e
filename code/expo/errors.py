"""The one exception type the CLI turns into a one-line error message naming the culprit."""


class ExpoError(Exception):
    """A user-facing error: bad input, config, paths, judges. Printed as one line, exit code 2."""
