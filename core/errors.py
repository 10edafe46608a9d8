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


class PluginOutputError(RecsecError):
    """A component returned something that breaks its contract (wrong shape, ids out of range,
    duplicates, non-finite numbers...); the message names the component, the method and the fault."""


class DeviceError(RecsecError):
    """The requested compute device is not a device name, or not present on this machine."""


class PluginError(RecsecError):
    """A component raised (or called ``sys.exit``) inside one of its methods; the message names
    the component and the method, the original exception is chained as the cause."""


def raised_in(who: str, exc: BaseException) -> PluginError:
    """``exc`` raised by ``who`` (e.g. ``attack 'x': run()``) as one line naming it."""
    detail = str(exc).splitlines()[0] if str(exc) else ""
    return PluginError(f"{who}: {type(exc).__name__}{': ' + detail if detail else ''}")
