"""Simulated CPUs: the TLB and one CPU's side of the protocol (quanta, shootdown and switch-away handlers)."""
