"""smpsim: a simulator of an SMP kernel's virtual-memory layer (NetBSD UVM / x86 pmap)."""

__version__ = "0.1.0"
