"""The one user-error type. The CLI turns it into one line on stderr and exit code 2."""


class UserError(Exception):
    """Bad input, options, config or rule files: the user can fix it, so no traceback."""
