"""The declarations a strategy kind and a design parameter make about themselves, once.

Each kind's base class (`*_base.py`) carries a `Kind`: the switch's name, the
value a preset row or policy that does not name it gets, and one line saying
what the choice is. A parameter of the design (`shootdown_batch`, ...) is a
`Parameter`, declared beside whatever reads it: the kind whose strategy's
constructor takes it, or the kernel (owner None). The presets table
(`smpsim.vm.design`), the PolicyConfig schema of configs and the generated docs all
read these; none restates a default, a bound or an allowed value.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    """A strategy kind: `name` is its switch (and the Design field), `default` the value a row
    or policy that omits it gets; `aliases` maps spellings still accepted in configs to values."""
    name: str
    default: object
    doc: str
    aliases: tuple[tuple[object, str], ...] = ()

    def canonical(self, value):
        """The value an old spelling stands for (`pcid = true` is "pcid"); any other value as given."""
        for old, new in self.aliases:
            if type(value) is type(old) and value == old:
                return new
        return value


@dataclass(frozen=True)
class Parameter:
    """A design parameter: `owner` is the strategy kind whose constructor takes it, or None when
    the kernel reads it from the design itself. An integer has `ge`/`le` bounds; a choice lists
    its `values`."""
    name: str
    owner: str | None
    type: type
    default: object
    doc: str
    ge: int | None = None
    le: int | None = None
    values: tuple = ()

    def problem(self, value) -> str | None:
        """What is wrong with `value` for this parameter (None: nothing)."""
        if self.values:
            if value not in self.values:
                return f"{self.name}={value!r}; allowed: {', '.join(map(repr, self.values))}"
            return None
        if type(value) is not self.type:
            return f"{self.name}={value!r} must be of type {self.type.__name__}"
        if self.ge is not None and value < self.ge or self.le is not None and value > self.le:
            return f"{self.name}={value!r} must be between {self.ge} and {self.le}"
        return None
