"""Domain errors carry the sentence the person who acted should read."""

from __future__ import annotations


class DomainError(Exception):
    """Refused or impossible; `str(error)` is the sentence shown to the person."""


class NotFound(DomainError):
    pass


class NotAllowed(DomainError):
    pass


class InvalidTransition(DomainError):
    pass


class NotUnderstood(DomainError):
    """What the person typed is not what the bot expects; the sentence says what it expects."""


class AlreadyClaimed(DomainError):
    pass


class Rejected(DomainError):
    """The text breaks a rule of the brand's guide; the sentence lists what."""
