"""Named exceptions. Every failure a user can meet has its own class and a clear message."""


class SmpsimError(Exception):
    """Base class of every error smpsim raises on purpose."""


class ConfigError(SmpsimError):
    """A config file or --set override is invalid; the message names key, value and what is allowed."""


class NotImplementedInModel(SmpsimError):
    """A documented switch or feature whose model is not built yet."""


class SimulationError(SmpsimError):
    """The modelled kernel reached a state it cannot continue from (e.g. memory exhausted)."""


class InvariantViolation(SimulationError):
    """The invariant checker found a breach; `name` is the invariant, `detail` what broke."""

    def __init__(self, name: str, detail: str):
        super().__init__(f"invariant violated: {name}: {detail}")
        self.name = name
        self.detail = detail


class ExchangeError(SmpsimError):
    """A message exchange with a CPU actor failed (actor died, timeout); names actor, epoch, exchange."""


class RunDirError(SmpsimError):
    """A path given to an analysis command is not a usable run directory."""


class ClusterError(SmpsimError):
    """A Ray cluster could not be started or attached to (unreachable address, missing or wrong token)."""
