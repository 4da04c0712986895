"""The homeserver's error codes as typed exceptions (bridge/matrix.py raises them), so callers
catch what they mean (`RoomInUse`), not status numbers."""

from __future__ import annotations


class MatrixError(Exception):
    def __init__(self, status: int, errcode: str, error: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path}: {status} {errcode}: {error}")
        self.status = status
        self.errcode = errcode
        self.error = error


class Forbidden(MatrixError):
    pass


class NotFound(MatrixError):
    pass


class RoomInUse(MatrixError):
    pass


class UserInUse(MatrixError):
    pass


class Unavailable(MatrixError):
    """The homeserver kept failing (5xx, 429 or connection errors) after every retry."""


class TooLarge(MatrixError):
    """Too big: a media item bigger than the caller accepts, or an event the homeserver
    refused with 413 M_TOO_LARGE (over 64 KiB). Sending it again cannot help."""


_BY_ERRCODE: dict[str, type[MatrixError]] = {
    "M_FORBIDDEN": Forbidden,
    "M_NOT_FOUND": NotFound,
    "M_ROOM_IN_USE": RoomInUse,
    "M_USER_IN_USE": UserInUse,
    "M_TOO_LARGE": TooLarge,
}


def error_for(
    status: int, errcode: str, error: str, method: str, path: str, *, gave_up: bool
) -> MatrixError:
    """The exception for a refused request. `gave_up`: a 5xx or 429 that was retried until the
    end (or may not be retried): Unavailable, whatever its code."""
    cls = Unavailable if gave_up else _BY_ERRCODE.get(errcode, MatrixError)
    return cls(status, errcode, error, method, path)
