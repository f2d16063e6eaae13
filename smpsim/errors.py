"""Named exceptions. Every failure a user can meet has its own class and a clear message."""


class SmpsimError(Exception):
    """Base class of every error smpsim raises on purpose."""


class ConfigError(SmpsimError):
    """A config file or --set override is invalid; the message names key, value and what is allowed."""


class NotImplementedInModel(SmpsimError):
    """A documented switch or feature whose model is not built yet."""


class SimulationError(SmpsimError):
    """The modelled kernel reached a state it cannot continue from (e.g. memory exhausted)."""


class NoProgress(SimulationError):
    """The simulation stopped making progress (`cause` names how: "stranded" or "starved");
    the message says what waits, since when, and what to change."""

    def __init__(self, cause: str, message: str, **facts):
        super().__init__(f"no progress ({cause}): {message}")
        self.cause = cause
        self.facts = facts          # what the no_progress event records beside the message


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


class OutputError(SmpsimError):
    """The output location cannot be used before the run starts (unwritable, full, under a file,
    name too long): bad input, nothing was started."""


class RunWriteError(SmpsimError):
    """Writing the run directory failed after the run started (disk full, file system gone read-only);
    the run is failed and its run.json says so when it can still be written."""


class RunDirInUse(SmpsimError):
    """Another smpsim process holds the run directory's lock (it is running or resuming it)."""


class CalibrationError(SmpsimError):
    """`smpsim calibrate` cannot measure this machine: no C compiler, not Linux, CPUs that are not
    usable, a benchmark that failed or timed out. The message is one paragraph saying how to fix it."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; `signum` says which. A KeyboardInterrupt, so every cleanup path
    that already handles Ctrl-C (actors killed, logs closed, status written) handles SIGTERM too."""

    def __init__(self, signum: int):
        import signal
        self.signum = int(signum)
        self.signame = signal.Signals(self.signum).name
        super().__init__(f"interrupted by {self.signame}")


class TraceError(SmpsimError):
    """A recorded program's trace cannot be recorded, imported or read (exit 2)."""
