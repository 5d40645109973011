"""The one user-error type. The CLI turns it into one line on stderr and exit code 2; the Python API raises
it as `dedupaudit.InputError` with the same line."""


class InputError(ValueError):
    """Bad input, options, config or rule files: the user can fix it, so no traceback."""


UserError = InputError  # the name the code base uses; InputError is the public one
