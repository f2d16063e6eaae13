"""Pytest fixtures for the Ray integration tests (loaded by tests/conftest.py through pytest_plugins).

`ray_cluster` (session): one local Ray cluster for every Ray test that does not test
cluster start-up itself: `address="local"`, 2 CPUs, no dashboard, loopback only
(smpsim.runtime.ray_cluster.start_local). If Ray is already initialised in the test
process it is reused and left alone.
`ray_backend` (function): a RayBackend on that cluster (short exchange timeout); its
actors are killed at the end of the test, the cluster stays up.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def ray_cluster():
    import ray

    from smpsim.runtime.ray_cluster import ClusterConnection, start_local
    if ray.is_initialized():
        conn = ClusterConnection(ray.get_runtime_context().gcs_address, started=False, initialised=False)
    else:
        conn = start_local(num_cpus=2)
    yield conn
    conn.close()


@pytest.fixture
def ray_backend(ray_cluster):
    from smpsim.runtime.ray_backend import RayBackend
    backend = RayBackend(timeout_s=30.0)
    yield backend
    backend.close()
