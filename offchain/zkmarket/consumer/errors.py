"""Exceptions of :mod:`zkmarket.consumer`: every error raised on purpose is a :class:`ConsumerError`,
and its message is one line that says what went wrong and what to do about it."""

from __future__ import annotations


class ConsumerError(Exception):
    """Root of all errors raised by :mod:`zkmarket.consumer`."""


class RevertError(ConsumerError):
    """A contract call would revert (or did); ``error`` is the decoded custom error's name."""

    def __init__(self, message: str, *, error: str | None = None, args: dict | None = None):
        self.error = error
        self.error_args = args or {}
        super().__init__(message)


class InsufficientFundsError(ConsumerError):
    """The account cannot pay a transaction's value plus its gas."""

    def __init__(self, message: str, *, needed: int, available: int):
        self.needed, self.available = needed, available
        super().__init__(message)


class DeadlinePassedError(ConsumerError):
    """A deadline of the consumer's own move passed: the chain says the stage expired."""


class TestSetFileError(ConsumerError):
    """An examples, labels or committed test-set file is malformed or was tampered with."""

    __test__ = False  # not a pytest test class despite the name


class ProofCheckError(ConsumerError):
    """A proof the contract accepted does not verify locally: the consumer refuses to pay."""


class StateFileError(ConsumerError):
    """The consumer's audit state file is missing, unreadable or belongs to another audit."""


class WaitTimeout(ConsumerError):
    """The other party did not move within ``--timeout``; the audit can be resumed."""
