"""The final drop of a dying mm, the kind's interface (`LazyDropStrategy`): what it does about
CPUs still holding the pmap lazily (`lazy_drop`).

The values are `refcount` (nothing: the lazy holders keep their references; NetBSD, FreeBSD,
Linux x86) and `shoot_lazies` (Linux's CONFIG_MMU_LAZY_TLB_SHOOTDOWN); both are in `lazy_drop`.
"""

from __future__ import annotations

from smpsim.vm.declare import Kind


class LazyDropStrategy:
    """Kernel hook: `final_drop` runs when an exiting process's teardown drops the pmap's last
    real user (Linux's __mmdrop path); `op` is the exit's operation. No step by default."""

    KIND = Kind("lazy_drop", "refcount", "What the last real user's drop of a dying mm does about "
                                         "CPUs holding it lazily")
    PARAMETERS = ()

    def __init__(self, k):
        self.k = k

    def final_drop(self, pmap, op) -> None:
        """Nothing, by default: a lazy holder lets go when it next loads another pmap."""
