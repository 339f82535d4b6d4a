"""Violations of domain rules, raised by entities and value objects."""


class DomainError(Exception):
    """A rule of the domain was broken; the message says which, in words a client can act on."""


class InvalidPhoneNumber(DomainError):
    pass


class InvalidMessage(DomainError):
    pass


class InvalidCredentials(DomainError):
    pass
