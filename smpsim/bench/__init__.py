"""The benchmark: simulator throughput, exchange overhead against bare Ray, scaling.

Everything is measured in one process run, so the figures are comparable. One
module per section of the report (BENCHMARKS.md):

* `exchange` (1): the wall latency of smpsim's shootdown exchange to k CPU
  actors against a bare Ray round trip with the same fan-out;
* `tlb` (2a): TLB lookups per second in quanta, in this process and in a CPU actor;
* `vm_ops` (2b): VM operations per second in the coordinator (inline);
* `epochs` (2c): epochs per second for a few CPU counts, inline and on Ray;
* `quick_config` (2d): configs/exit_storm_quick.toml end to end, inline and on Ray;
* `scaling` (3a): wall time and actor memory of a fixed exit_storm against ncpus;
* `many_actors` (3b): whether 64 CPU actors start;
* `targets` (4): the typed targets, the measurements they are judged on, verdicts.

Around them: `sizes` (full, quick, smoke), `workloads` (the CPU requests and
configs they run), `timing`, `machine` (/proc and versions), `report` (sections
rendered by `smpsim.analysis.tables`, BENCHMARKS.md), `profile` (py-spy on
missed targets) and `command` (options and order). Ray is reached only through
`smpsim.runtime` (`runtime.probes`, `RayBackend`). Benchmarks are never timed
tests: nothing here asserts a time.
"""

from smpsim.bench.command import main

__all__ = ["main"]
