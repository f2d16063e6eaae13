"""What smpsim needs from Ray 2.60 that Ray has no public interface for: each use, and why.

Everywhere else smpsim uses Ray's public API only (tests/test_code_rules.py keeps Ray's private
modules out of every other file), so a Ray upgrade has this one module to look at.
"""

from __future__ import annotations

import os
from contextlib import contextmanager

import ray._private.ray_constants as ray_constants

AUTH_MODE_ENV = "RAY_AUTH_MODE"
_ENABLE_CLUSTER_ENV = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"


def token_mode_on() -> None:
    """Switch Ray's token authentication on, for this process and the processes it starts.

    The public switch is the environment variable RAY_AUTH_MODE=token, but Ray reads its
    configuration once, when it is imported, and smpsim decides only when it starts or attaches
    to a cluster (a test session or notebook may have imported Ray long before). Set then, the
    variable reaches the processes Ray spawns but not this one, whose GCS client would send no
    token. So the public variable is set, then this process's cached configuration is reloaded
    (`Config.initialize`, what Ray's own private helper for this does).
    """
    from ray._raylet import Config
    os.environ[AUTH_MODE_ENV] = "token"
    Config.initialize("")


def token_found() -> bool:
    """Whether Ray's token loader finds a token (RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token).

    Asked before attaching, to fail with one line instead of Ray's retry loop; the only public
    way to ask is `ray get-auth-token`, a subprocess that generates a token when there is none.
    """
    from ray._raylet import AuthenticationTokenLoader
    loader = AuthenticationTokenLoader.instance()
    loader.reset_cache()
    return loader.has_token(ignore_auth_mode=True)


def gcs_cluster_id(address: str):
    """One call to the GCS at HOST:PORT; raises as Ray's GCS client does (AuthenticationError on a
    refused token). `ray.init` is the public way in, but it retries a dead or refusing GCS for
    about 20 seconds and then prints a traceback."""
    from ray._raylet import GcsClient
    return GcsClient(address=address).cluster_id


def recorded_address() -> str | None:
    """The address the last `ray start` on this machine recorded (what `ray.init(address="auto")`
    attaches to), or None. Public only inside `ray.init("auto")`, which smpsim cannot use because
    it probes the address before calling `ray.init`."""
    from ray._private.utils import read_ray_address
    return read_ray_address() or None


@contextmanager
def loopback_mode():
    """Make Ray keep 127.0.0.1 as the node IP (this process and the processes it spawns meanwhile).

    Ray 2.60 turns a node IP of 127.0.0.1 into the host's external IP unless the module constant
    `ray_constants.ENABLE_RAY_CLUSTER` is false; its environment variable is read only when Ray is
    imported, so the constant itself is switched (and the variable, for the processes Ray spawns).
    """
    saved_const = ray_constants.ENABLE_RAY_CLUSTER
    saved_env = os.environ.get(_ENABLE_CLUSTER_ENV)
    ray_constants.ENABLE_RAY_CLUSTER = False
    os.environ[_ENABLE_CLUSTER_ENV] = "0"
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = saved_const
        if saved_env is None:
            os.environ.pop(_ENABLE_CLUSTER_ENV, None)
        else:
            os.environ[_ENABLE_CLUSTER_ENV] = saved_env
