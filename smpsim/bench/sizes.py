"""How big each benchmark runs: the full, quick and smoke sizes (`--quick`, `--smoke`).

The targets are defined at the full sizes; a quick run keeps every size a target
depends on and only takes fewer samples, a smoke run shrinks everything to
finish in seconds (its figures are checked for shape, never judged).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sizes:
    mode: str                               # "full", "quick" or "smoke"
    fanouts: tuple[int, ...] = (1, 2, 4, 8, 15)
    exchange_iters: int = 400
    exchange_warmup: int = 30
    tlb_quanta: int = 300
    accesses: int = 2000                    # per quantum: MachineConfig.accesses_per_quantum default
    working_sets: tuple[int, ...] = (256, 4096)   # pages: fits the 1536-entry TLB / thrashes it
    vm_pages: int = 8192
    vm_munmap_pages: int = 16
    epoch_ncpus: tuple[int, ...] = (4, 8, 16)
    epoch_run_epochs: int = 40
    quick_ncpus: int = 16                   # the target's "16-CPU quick exit_storm"
    scale_ncpus: tuple[int, ...] = (2, 4, 8, 16, 32)
    try_ncpus: int = 64
    inline_repeats: int = 3

    @property
    def judged(self) -> bool:
        """Whether figures at these sizes are judged against the targets (smoke sizes are not)."""
        return self.mode != "smoke"


SIZES = {
    "full": Sizes("full"),
    "quick": Sizes("quick", exchange_iters=150, exchange_warmup=15, tlb_quanta=100, vm_pages=4096,
                   epoch_run_epochs=20),
    "smoke": Sizes("smoke", fanouts=(1, 2), exchange_iters=8, exchange_warmup=2, tlb_quanta=4, accesses=500,
                   working_sets=(64,), vm_pages=128, epoch_ncpus=(2,), epoch_run_epochs=2, quick_ncpus=2,
                   scale_ncpus=(2,), try_ncpus=3, inline_repeats=1),
}
