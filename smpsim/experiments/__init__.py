"""Experiments: the config schema, workloads, sweeps, the runner and run directories."""
