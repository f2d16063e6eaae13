"""How many simulations run at once, and whether one fits at all: arithmetic over Ray's view of the cluster.

Checked once the backend is connected and before any actor or task starts. Ray's
view is each live node's logical CPUs and its `memory` resource (what Ray lets
reservations use: by default about 70% of the node's memory when it started).

* Ray backend: a simulation is an actor set of (largest ncpus of the run + 1)
  actors of `ACTOR_BYTES` each (`runtime.ray_pool`). It must fit one node; if no
  node is big enough but the cluster's memory together is, it runs spread over
  nodes (one at a time, and run.json says so); if even the cluster together is
  too small, the run is refused (ConfigError: exit 2) with the arithmetic.
* Inline on the cluster: a simulation is one task reserving one CPU and
  `sim_bytes` (the estimate's model memory plus a worker process).

The most at once by memory is the sum over nodes of how many sets each node
holds; by CPUs it is the cluster's CPUs. The default is the smaller of the
two; `--parallel N` / `run.parallel` may ask for fewer, never for more than
memory allows (it is lowered, with a note).
"""

from __future__ import annotations

from dataclasses import dataclass

from smpsim.errors import ConfigError

MiB = 1 << 20
GiB = 1 << 30
ACTOR_BYTES = 100 * MiB      # fallbacks for a backend that does not say (the Ray backends do: runtime.ray_pool,
SIM_BYTES = 300 * MiB        # runtime.ray_inline)


def _size(n: float) -> str:
    return f"{n / GiB:.1f} GiB" if n >= GiB else f"{n / MiB:.0f} MiB"


@dataclass
class Capacity:
    parallel: int              # simulations at once
    per_sim_bytes: int         # memory one simulation reserves
    by_memory: int             # the most memory allows
    by_cpus: int               # the most the cluster's CPUs allow
    spread: bool               # a simulation cannot fit one node: it runs over several
    notes: list

    def as_json(self) -> dict:
        return {"parallel": self.parallel, "per_simulation_bytes": self.per_sim_bytes,
                "max_by_memory": self.by_memory, "max_by_cpus": self.by_cpus, "spread": self.spread,
                "notes": self.notes}


def per_simulation_bytes(backend: str, max_ncpus: int, actor_bytes: int, sim_bytes: int) -> tuple[int, str]:
    """(bytes one simulation reserves, how that was worked out)."""
    if backend == "ray":
        n = max_ncpus + 1
        return n * actor_bytes, f"{max_ncpus} CPU actors + 1 VM actor = {n} actors x {_size(actor_bytes)}"
    return sim_bytes, f"one inline task of {_size(sim_bytes)}"


def plan(nodes: list, *, backend: str, max_ncpus: int, actor_bytes: int, sim_bytes: int,
         requested: int | None, simulations: int) -> Capacity:
    """How many at once on `nodes` (runtime NodeInfo: cpus, memory); ConfigError when one cannot fit."""
    need, how = per_simulation_bytes(backend, max_ncpus, actor_bytes, sim_bytes)
    need = max(need, 1)
    total_mem = sum(n.memory for n in nodes)
    largest = max((n.memory for n in nodes), default=0)
    cpus = int(sum(n.cpus for n in nodes))
    notes = []
    spread = False
    if need > largest:
        if backend != "ray" or need > total_mem:
            raise ConfigError(
                f"a simulation of this run needs {_size(need)} ({how}) but the largest node of the Ray cluster "
                f"has {_size(largest)} of memory for Ray, and all {len(nodes)} node(s) together "
                f"{_size(total_mem)}; shrink machine.ncpus or the workload, or add nodes. Nothing was started")
        spread = True
        by_memory = 1
        notes.append(f"a simulation needs {_size(need)} ({how}), more than any one node has for Ray "
                     f"(largest {_size(largest)}): each runs spread over several nodes, one at a time")
    else:
        by_memory = sum(n.memory // need for n in nodes)
    by_cpus = max(1, cpus)
    n = min(by_memory, by_cpus)
    if requested is not None:
        if requested > by_memory:
            notes.append(f"--parallel {requested} lowered to {by_memory}: {by_memory} simulation(s) of "
                         f"{_size(need)} ({how}) fit the cluster's {_size(total_mem)} of memory for Ray")
            n = by_memory
        else:
            n = requested
    n = max(1, min(n, max(1, simulations)))
    return Capacity(n, need, by_memory, by_cpus, spread, notes)
