"""How a `dialogic` command ends: its exit codes, and `Failure`, the one way to stop with a message.

A handler raises `Failure(code, message)` for any failure a person can expect (a missing file, a service
that cannot be reached, a refused key); `dialogic` prints it as one line on stderr, never a traceback,
and exits with the code. The codes are the README's table, so scripts can tell "fix the input" from
"try again later".
"""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    OK = 0
    JOB_FAILED = 1  # the remote job failed or was cancelled
    INPUT = 2  # bad arguments or input: a missing file or folder, a file refused whole (413, 415, 422)
    UNREACHABLE = 3  # the service could not be reached (connection refused, DNS, timeout)
    REFUSED = 4  # the service refused the request: 401 (API key), 403, 404, 429
    UNAVAILABLE = 5  # the service failed or is not ready: 5xx (503: no Redis, Redis down, loading)
    INTERRUPTED = 130  # Ctrl-C


class Failure(Exception):
    def __init__(self, code: Exit, message: str) -> None:
        super().__init__(message)
        self.code = code


def for_status(status: int) -> Exit:
    """The exit code for an HTTP error answer: the file's fault, the caller's, or the service's."""
    if status in (413, 415, 422):
        return Exit.INPUT
    return Exit.UNAVAILABLE if status >= 500 else Exit.REFUSED
