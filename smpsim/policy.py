"""Policies: the switches of SPEC §3 and the presets that name interesting combinations.

`teardown` has a third value beside the SPEC's two: `gc`, NetBSD's 2008-2019
`md_gc_pmap` path (after pmap_remove_all, PTEs are still cleared and PV entries
removed one by one, but shootdowns for the pmap are suppressed and the emptied
PTPs collected; pmap_update then does one full flush and frees them).

`netbsd5` is the 2011 x86 pmap after the rmind-uvmplock merge; `seed` switches on
all three proposals of the 2011 tech-kern post. Any switch can be overridden on a
preset, which is how each proposal is measured alone (an ablation).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PRESETS: dict[str, dict] = {
    "netbsd5": dict(pv_tracking="global_hash", teardown="eager", lazy_tlb="on",
                    pressure_switch="off", shootdown_batch=6, pcid=False),
    "seed": dict(pv_tracking="map_entry", teardown="deferred", lazy_tlb="on",
                 pressure_switch="on", shootdown_batch=6, pcid=False),
}


class Policy(BaseModel):
    """One set of switches. `p2v_retry` is derived from `pv_tracking` (SPEC §3)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    preset: Literal["netbsd5", "seed"] = "netbsd5"
    pv_tracking: Literal["global_hash", "map_entry"] = "global_hash"
    teardown: Literal["eager", "deferred", "gc"] = "eager"
    lazy_tlb: Literal["on", "off"] = "on"
    pressure_switch: Literal["on", "off"] = "off"
    shootdown_batch: int = Field(default=6, ge=1, le=512)
    pcid: bool = False

    @model_validator(mode="before")
    @classmethod
    def _apply_preset(cls, data):
        if isinstance(data, str):
            data = {"name": data, "preset": data}
        if not isinstance(data, dict):
            return data
        preset = data.get("preset", data.get("name") if data.get("name") in PRESETS else "netbsd5")
        if preset not in PRESETS:
            return data  # Literal validation reports it with the allowed values
        merged = dict(PRESETS[preset])
        merged.update(data)
        merged["preset"] = preset
        return merged

    @property
    def p2v_retry(self) -> bool:
        """The 2011 global-hash P->V path retries on a lost lock-order race; map_entry never does."""
        return self.pv_tracking == "global_hash"

    def switches(self) -> dict:
        d = self.model_dump(exclude={"name", "preset"})
        d["p2v_retry"] = self.p2v_retry
        return d
