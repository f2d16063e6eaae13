"""Jiffies: the kernel's tick count, derived from simulated time (cycles at `machine.ghz`).

Linux compares jiffies, not cycles, where the model needs a kernel clock: `should_trim_cpumask`
(arch/x86/mm/tlb.c, `time_after(jiffies, mm->context.next_trim_cpumask)`, one second = HZ
jiffies) and `consider_global_asid` (`(current->pid & 0x1f) != (jiffies & 0x1f)`). HZ is 1000:
CONFIG_HZ_1000 is set by the x86_64-rhel-9.4 config the 0-day robot's tlb_flush2 report ran
(202411282207.6bd28eae-lkp) and by Fedora/RHEL kernels; Debian and Ubuntu generic kernels use
250 (a tick of 4 ms), which would make consider_global_asid's 1-in-32 window 128 ms instead of
32 ms. A choice, stated here once; the trim's one second is HZ jiffies whatever HZ is.
"""

from __future__ import annotations

HZ = 1000


def jiffies(k, t: int) -> int:
    """The jiffies count at simulated time `t` (cycles since the run began, jiffies 0 then)."""
    return int(t * HZ // (k.config.machine.ghz * 1e9))
