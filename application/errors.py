"""Errors a use case reports to whoever called it; entrypoints map each class to a response."""


class ApplicationError(Exception):
    """Base class: the message is safe to show to the client."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class AuthenticationFailed(ApplicationError):
    def __init__(self) -> None:
        # One message for an unknown user and a wrong password, so neither can be told apart.
        super().__init__("the username or password is wrong")


class InvalidToken(ApplicationError):
    pass


class AccessDenied(ApplicationError):
    pass


class NotFound(ApplicationError):
    pass


class AlreadyExists(ApplicationError):
    pass


class InvalidInput(ApplicationError):
    """Input that is well-formed but breaks a rule of the use case."""


class UnknownSender(InvalidInput):
    pass


class NoDefaultSender(InvalidInput):
    pass


class InvalidCursor(ApplicationError):
    pass


class StorageUnavailable(ApplicationError):
    """The database could not be reached; the request may be retried later."""


class RateLimited(ApplicationError):
    def __init__(self, detail: str, *, retry_after_seconds: int, limit: int, window_seconds: int) -> None:
        super().__init__(detail)
        self.retry_after_seconds = max(1, retry_after_seconds)
        self.limit = limit
        self.window_seconds = window_seconds


class CredentialsUnreadable(ApplicationError):
    """Stored provider credentials do not open: the encryption keys changed, or the row was tampered with.

    Nothing the client can fix; an operator has to restore the key or set the credentials again.
    """

    def __init__(self) -> None:
        super().__init__(
            "the tenant's stored provider credentials cannot be read; ask an operator to reset them"
        )
