"""The one error type users see: the CLI prints its message on one line and exits 2."""


class TfhashError(ValueError):
    """Bad input or an impossible request, explained in one line for the user."""


def require(condition, message):
    """Raise `TfhashError(message)` unless `condition` holds."""
    if not condition:
        raise TfhashError(message)
