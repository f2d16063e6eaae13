"""Simulated CPUs: TLB, the VALID/LAZY/STALE state machine, quantum execution."""
