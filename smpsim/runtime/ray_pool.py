"""Warm actor sets for the Ray backend: one simulation's VM actor and CPU actors, placed together.

An `ActorSet` is a placement group plus the actors in it: bundle 0 holds the VM
actor, bundle i+1 CPU actor i. Each bundle reserves `actor_bytes` of Ray's
`memory` resource (and `actor_num_cpus` CPUs), so Ray itself never packs more
simulations on a node than its memory holds. The group is STRICT_PACK (every
actor of the simulation on one node, so its exchanges never leave the node)
whenever one node of the cluster is big enough; otherwise PACK, which lets Ray
spread that one simulation over nodes, and the set says so (`spread`).

`ActorPool` hands sets out and takes them back, under a lock, so several
simulations can run at once from several driver threads, each with its own
actors. A set is reused by later simulations of the run (points and policies
alike) when it has at least as many CPU actors as they need: a simulation of n
CPUs uses the first n (`CpuWorker.setup` builds a fresh SimCpu every time, and
the VM actor a fresh VmCoordinator, so nothing carries over). `set_size` (the
run's largest ncpus, given by the runner) makes every set that big, so one
set serves the whole sweep. A set that was part of a failed simulation is
killed, never reused. New sets are aimed at the node running the fewest of the
pool's sets (`_soft_target_node_id`: Ray may still choose another node when
that one is full), so a cluster's nodes share the work.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import ray
from ray.util.placement_group import placement_group, remove_placement_group
from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

from smpsim.errors import ExchangeError
from smpsim.runtime.ray_actors import VmActor
from smpsim.runtime.ray_cpu import CpuActor, kill_actors
from smpsim.runtime.ray_transport import SETUP_TIMEOUT_S

MiB = 1 << 20
ACTOR_BYTES = 100 * MiB          # a CPU or VM actor's worker process (Python, Ray, smpsim), measured RSS


@dataclass(frozen=True)
class NodeInfo:
    """A live node as Ray sees it: id, address, logical CPUs and memory, custom resources."""
    node_id: str
    ip: str
    cpus: float
    memory: int
    custom: dict

    def as_json(self) -> dict:
        return {"ip": self.ip, "cpus": self.cpus, "memory_bytes": self.memory, "resources": self.custom}


_BUILTIN = ("CPU", "GPU", "memory", "object_store_memory")


def cluster_nodes() -> list[NodeInfo]:
    """The cluster's live nodes (Ray's view: logical CPUs, the `memory` resource, custom resources)."""
    out = []
    for n in ray.nodes():
        if not n.get("Alive"):
            continue
        res = n.get("Resources", {})
        custom = {k: v for k, v in res.items() if k not in _BUILTIN and not k.startswith("node:")}
        out.append(NodeInfo(n["NodeID"], n.get("NodeManagerAddress", "?"), float(res.get("CPU", 0.0)),
                            int(res.get("memory", 0)), custom))
    return out


def _node_id(_instance) -> str:
    return ray.get_runtime_context().get_node_id()


@dataclass
class ActorSet:
    size: int                    # CPU actors in the set
    pg: object
    vm: object
    cpus: list
    spread: bool                 # the group could not fit one node (PACK instead of STRICT_PACK)
    vm_node: str = ""
    cpu_nodes: list = field(default_factory=list)
    uses: int = 0

    def placement(self, ncpus: int) -> dict:
        """Where a simulation of `ncpus` CPUs on this set ran: for run.json and the tests."""
        cpu_nodes = self.cpu_nodes[:ncpus]
        return {"vm_node": self.vm_node, "cpu_nodes": cpu_nodes,
                "nodes": sorted({self.vm_node, *cpu_nodes}), "spread": self.spread,
                "actor_set_size": self.size, "warm": self.uses > 1}

    def kill(self) -> None:
        kill_actors([self.vm, *self.cpus])
        try:
            remove_placement_group(self.pg)
        except Exception:  # noqa: BLE001 - gone with the cluster
            pass


class ActorPool:
    def __init__(self, *, actor_num_cpus: float = 0.0, actor_bytes: int = ACTOR_BYTES,
                 delay_s: dict | None = None, setup_timeout_s: float = SETUP_TIMEOUT_S):
        self.actor_num_cpus = float(actor_num_cpus)
        self.actor_bytes = int(actor_bytes)
        self.delay_s = dict(delay_s or {})
        self.setup_timeout_s = setup_timeout_s
        self.set_size = 0                # at least this many CPU actors per new set (the run's largest ncpus)
        self._lock = threading.Lock()
        self._idle: list[ActorSet] = []
        self._busy: list[ActorSet] = []
        self._pending: dict[str, int] = {}      # node -> sets being created there
        self._closed = False
        self.created = 0                 # sets created (for the tests and the benchmark)

    def bundles(self, size: int) -> list[dict]:
        b = {"memory": float(self.actor_bytes)}
        if self.actor_num_cpus:
            b["CPU"] = self.actor_num_cpus
        return [dict(b) for _ in range(size + 1)]

    def acquire(self, ncpus: int) -> ActorSet:
        with self._lock:
            if self._closed:
                raise ExchangeError("the Ray backend is closed")
            fitting = sorted((s for s in self._idle if s.size >= ncpus), key=lambda s: s.size)
            if fitting:
                s = fitting[0]
                self._idle.remove(s)
                self._busy.append(s)
                s.uses += 1
                return s
            # idle sets too small for what comes next only hold memory: let them go
            small = [s for s in self._idle if s.size < max(ncpus, self.set_size)]
            self._idle = [s for s in self._idle if s not in small]
            target = self._target_node(max(ncpus, self.set_size))
            if target[0] is not None:
                self._pending[target[0]] = self._pending.get(target[0], 0) + 1
        for s in small:
            s.kill()
        try:
            s = self._create(max(ncpus, self.set_size), target)
        finally:
            with self._lock:
                if target[0] is not None:
                    self._pending[target[0]] -= 1
        with self._lock:
            if self._closed:
                s.kill()
                raise ExchangeError("the Ray backend was closed while actors were starting")
            self._busy.append(s)
            s.uses = 1
            self.created += 1
        return s

    def _target_node(self, size: int) -> tuple[str | None, bool]:
        """(node to aim the new set at, whether it must spread); called with the lock held."""
        need = (size + 1) * self.actor_bytes
        nodes = [n for n in cluster_nodes() if n.memory >= need]
        if not nodes:
            return None, True
        load = {n.node_id: self._pending.get(n.node_id, 0) for n in nodes}
        for s in self._busy + self._idle:
            if s.vm_node in load:
                load[s.vm_node] += 1
        best = min(nodes, key=lambda n: (load[n.node_id] / max(n.cpus, 1.0), -n.memory))
        return best.node_id, False

    def _create(self, size: int, target: tuple[str | None, bool]) -> ActorSet:
        node, spread = target
        if spread:
            pg = placement_group(self.bundles(size), strategy="PACK")
        else:
            pg = placement_group(self.bundles(size), strategy="STRICT_PACK", _soft_target_node_id=node)
        opts = dict(num_cpus=self.actor_num_cpus, memory=self.actor_bytes)

        def where(i):
            return PlacementGroupSchedulingStrategy(pg, placement_group_bundle_index=i)
        vm = VmActor.options(scheduling_strategy=where(0), **opts).remote()
        cpus = [CpuActor.options(scheduling_strategy=where(i + 1), **opts).remote(i, self.delay_s.get(i, 0.0))
                for i in range(size)]
        s = ActorSet(size, pg, vm, cpus, spread)
        try:
            nodes = ray.get([a.__ray_call__.remote(_node_id) for a in [vm, *cpus]], timeout=self.setup_timeout_s)
        except Exception as e:  # noqa: BLE001 - reported as one line
            s.kill()
            raise ExchangeError(f"the actors of a {size}-CPU simulation did not start within "
                                f"{self.setup_timeout_s:g} s: {str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__}") from None
        s.vm_node, s.cpu_nodes = nodes[0], nodes[1:]
        return s

    def release(self, s: ActorSet, healthy: bool) -> None:
        with self._lock:
            if s in self._busy:
                self._busy.remove(s)
            keep = healthy and not self._closed
            if keep:
                self._idle.append(s)
        if not keep:
            s.kill()

    def kill_all(self) -> None:
        """Kill every set, busy ones too (their simulations then fail); the pool refuses new work."""
        with self._lock:
            self._closed = True
            sets, self._idle, self._busy = self._idle + self._busy, [], []
        for s in sets:
            s.kill()
