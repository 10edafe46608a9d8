"""Exceptions with messages that name the file, field or component at fault."""


class RecsecError(Exception):
    """Base class for every error recsec raises on purpose."""


class SpecError(RecsecError):
    """A benchmark spec is malformed or names something that does not exist."""


class ParameterError(RecsecError):
    """A component was given an unknown parameter or a value of the wrong type."""


class DataUnavailableError(RecsecError):
    """A dataset's files are neither in the data directory nor downloadable."""


class BudgetExhausted(RecsecError):
    """The attacker asked the black-box API for more than its query budget allows."""


class RegistrationError(RecsecError):
    """A plugin tried to register an invalid or duplicate component."""
