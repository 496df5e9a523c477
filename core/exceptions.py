"""Domain errors raised by services; views and the error middleware turn them into responses."""


class DomainError(Exception):
    """A rule refused the action. `status` is the HTTP answer a view should give."""

    status = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotPermitted(DomainError):
    status = 403


class InvalidState(DomainError):
    """The object is not in a state that allows this action (HTTP 409)."""

    status = 409


class RateLimited(DomainError):
    status = 429
