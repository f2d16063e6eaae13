"""Policies: the design switches as a config sees them, on top of the presets table.

A policy names a preset (a row of `smpsim.vm.design.PRESETS`) and may override
any strategy kind or design parameter. The schema is built from the
declarations in `smpsim.vm.design` (`KINDS`, `PARAMETERS`): a switch per kind,
whose allowed values are the strategies registered for it (so a strategy or
preset registered by a test or a user is accepted like a built-in one), and a
switch per parameter with its declared type, bounds or allowed values. Nothing
here restates a default or an allowed value. Old spellings a kind still accepts
(`pcid = true` / `false`) are replaced by the value's name.

`netbsd5` is the 2011 x86 pmap after the rmind-uvmplock merge; `seed` switches on
all three proposals of the 2011 tech-kern post. Overriding one switch on a preset
is how each proposal is measured alone (an ablation). `design` is the resolved
strategy classes the model runs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StrictInt,
                      create_model, model_validator)
from pydantic_core import PydanticCustomError

from smpsim.vm import design as designs

DEFAULT_PRESET = "netbsd5"


def _one_of(value, allowed) -> object:
    if value not in allowed:
        names = [repr(v) for v in allowed]
        expected = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
        raise PydanticCustomError("literal_error", "Input should be {expected}", {"expected": expected})
    return value


def _kind_field(kind: str, decl) -> tuple:
    """A strategy kind's switch: a registered value's name (an old spelling becomes the name)."""
    return (Annotated[str, BeforeValidator(decl.canonical),
                      AfterValidator(lambda v: _one_of(v, designs.strategy_values(kind)))],
            Field(default=decl.default, description=decl.doc))


def _parameter_field(p) -> tuple:
    """A design parameter's switch, typed and bounded as declared."""
    if p.values:
        return Literal[p.values], Field(default=p.default, description=p.doc)
    if p.type is int:
        return StrictInt, Field(default=p.default, ge=p.ge, le=p.le, description=p.doc)
    return p.type, Field(default=p.default, description=p.doc)


class _PolicyBase(BaseModel):
    """One set of switches. `p2v_retry` is derived from `pv_tracking` (its strategy says whether it retries)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    preset: Annotated[str, AfterValidator(lambda v: _one_of(v, designs.preset_names()))] = DEFAULT_PRESET
    _design: designs.Design | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data):
        if isinstance(data, str):
            data = {"name": data, "preset": data}
        if not isinstance(data, dict):
            return data
        names = designs.preset_names()
        preset = data.get("preset", data.get("name") if data.get("name") in names else DEFAULT_PRESET)
        if preset not in names:
            return data  # the preset field's validation reports it with the allowed values
        merged = {k: v for k, v in designs.preset_row(preset).items() if k in cls.model_fields}
        merged.update(data)
        merged["preset"] = preset
        return merged

    def model_post_init(self, _context) -> None:
        row = designs.preset_row(self.preset)
        row.update(self.model_dump(exclude={"name", "preset"}))
        try:
            self._design = designs.resolve(row)
        except ValueError as e:
            raise PydanticCustomError("design_error", "{message}", {"message": str(e)}) from None

    @property
    def design(self) -> designs.Design:
        return self._design

    @property
    def p2v_retry(self) -> bool:
        """The 2011 global-hash P->V path retries on a lost lock-order race; map_entry never does."""
        return self.design.pv_tracking.retries_p2v

    def switches(self) -> dict:
        d = self.model_dump(exclude={"name", "preset"})
        d["p2v_retry"] = self.p2v_retry
        return d


PolicyConfig = create_model(
    "PolicyConfig", __base__=_PolicyBase, __module__=__name__,
    **{kind: _kind_field(kind, decl) for kind, decl in designs.KINDS.items()},
    **{p.name: _parameter_field(p) for p in designs.PARAMETERS.values()})
PolicyConfig.__doc__ = _PolicyBase.__doc__
