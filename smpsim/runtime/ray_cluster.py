"""Starting, or attaching to, the Ray cluster the Ray backend runs on (Ray 2.60 on Linux).

`connect(address)` covers three cases and returns a `ClusterConnection`:

* Ray is already initialised in this process (the tests' session fixture, a notebook):
  it is used as it is and never shut down by us.
* No address (neither argument nor RAY_ADDRESS): a fresh local cluster, always
  (`address="local"`, never a cluster an earlier `ray start` recorded in
  /tmp/ray/ray_current_cluster), dashboard off, quiet logs, few CPUs, and listening
  on loopback only. Ray 2.60 turns a node IP of 127.0.0.1 into the host's external
  IP (`services.resolve_ip_for_localhost`) unless `ray_constants.ENABLE_RAY_CLUSTER`
  is false; with it false and node IP 127.0.0.1 every gRPC server binds 127.0.0.1.
  `loopback_mode()` sets that (and its env var, for the processes Ray spawns) around
  `ray.init` only. `close()` shuts this cluster down.
  Ray 2.60 switches token authentication on for a new local cluster anyway (and warns that it
  did); `start_local` switches it on itself, keeping that default without the warning.
* An address (argument or RAY_ADDRESS): attach. `ray start --head` in 2.60 turns on
  token authentication when a token exists, but `ray.init(address=...)` with an
  explicit address does not, and a missing or wrong token then costs a 20-second
  retry loop and a traceback. So before `ray.init` we (1) switch token mode on when
  RAY_AUTH_MODE is unset and Ray's own loader finds a token (RAY_AUTH_TOKEN,
  RAY_AUTH_TOKEN_PATH, ~/.ray/auth_token: the places Ray looks), as Ray itself does
  for `address="auto"`, and (2) probe the GCS once; an unreachable address or a
  refused token becomes one `ClusterError` line. A loopback address is attached in
  loopback mode (else Ray would dial the external IP). `close()` only disconnects.

Processes of a local cluster. `ray.shutdown()` stops what a graceful exit started,
but a driver killed outright (SIGKILL, OOM killer) leaves orphans: the dashboard and
runtime-env agents ignore SIGTERM and outlive it for minutes, with workers beside
them. So a local cluster is registered when it starts (a small JSON file per driver
under `registry_dir()`: driver pid and start time, Ray session directory), and:

* `close()` stops every process of the session that `ray.shutdown()` left, and waits
  until none is left before returning;
* `start_local()` first calls `reap_dead_sessions()`: for every registered session
  whose driver is dead, it kills the processes of that session and forgets it.

A process belongs to a session when its command line names the session directory or
it holds a file open inside it (the agents rename themselves, but keep their logs
open). Sessions of live drivers, and clusters smpsim did not start, are never touched.

The few calls into Ray's private modules (token mode, the GCS probe, `ray start`'s recorded
address, the node-IP constant) are in `ray_internals`, each with why no public interface serves.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import ray

from smpsim.errors import ClusterError
from smpsim.runtime.ray_internals import (AUTH_MODE_ENV, gcs_cluster_id, loopback_mode, recorded_address, token_found,
                                          token_mode_on)
from smpsim.runtime.ray_sessions import (reap_dead_sessions, register, registry_dir, session_dir,  # noqa: F401
                                         session_processes, stop_session, unregister)     # (re-exported)

LOCAL_NUM_CPUS = 2
PROBE_TIMEOUT_S = 10.0
_LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
RAY_ADDRESS_ENV = "RAY_ADDRESS"


@dataclass
class ClusterConnection:
    """How this process is connected to Ray: the GCS address, and what `close()` must undo."""
    address: str
    started: bool          # we started this cluster: close() shuts it down
    initialised: bool      # we called ray.init: close() disconnects (cluster left running unless started)
    session_dir: str | None = None     # of a cluster we started: every process of it is stopped on close()

    def close(self) -> None:
        if self.initialised and ray.is_initialized():
            ray.shutdown()
        self.initialised = False
        if self.started and self.session_dir:
            stop_session(self.session_dir)
            unregister(os.getpid())
            self.session_dir = None




def is_loopback(host: str) -> bool:
    return host in _LOOPBACK_HOSTS or host.startswith("127.")


def split_address(address: str) -> tuple[str, int]:
    """HOST:PORT (IPv6 in brackets) -> (host, port); ClusterError when it is not one."""
    host, sep, port = address.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"Ray address {address!r}: expected HOST:PORT (e.g. 127.0.0.1:6379)")
    return host.strip("[]") if host.startswith("[") else host, int(port)


def _init_kwargs() -> dict:
    return dict(log_to_driver=False, logging_level=logging.WARNING, include_dashboard=False)


def start_local(num_cpus: int = LOCAL_NUM_CPUS) -> ClusterConnection:
    """A fresh single-node cluster on loopback only, owned by this process."""
    if os.environ.get(AUTH_MODE_ENV) is None:
        token_mode_on()                   # what ray.init would do here, without its warning
    reap_dead_sessions()                  # what drivers killed outright left behind
    try:
        with loopback_mode():
            ctx = ray.init(address="local", num_cpus=num_cpus, _node_ip_address="127.0.0.1",
                           **_init_kwargs())
    except Exception as e:
        raise ClusterError(f"could not start a local Ray cluster: {_first_line(e)}") from None
    session = session_dir()
    if session:
        register(session)
    return ClusterConnection(ctx.address_info["address"], started=True, initialised=True, session_dir=session)


def resolve_address(address: str | None) -> str | None:
    """The address to attach to (argument, else RAY_ADDRESS), or None for a fresh local cluster."""
    if address is None:
        address = os.environ.get(RAY_ADDRESS_ENV) or None
    if address is None or address == "local":
        return None
    if address == "auto":
        found = recorded_address()
        if not found:
            raise ClusterError("Ray address 'auto': no running cluster recorded by `ray start` on this machine")
        address = found
    return address


def _token_source() -> str | None:
    """Where Ray's loader would find a token, or None when it finds none."""
    if not token_found():
        return None
    if os.environ.get("RAY_AUTH_TOKEN"):
        return "RAY_AUTH_TOKEN"
    if os.environ.get("RAY_AUTH_TOKEN_PATH"):
        return f"RAY_AUTH_TOKEN_PATH={os.environ['RAY_AUTH_TOKEN_PATH']}"
    return str(Path.home() / ".ray" / "auth_token")


def _enable_token_auth_if_available() -> str | None:
    """Token mode on when RAY_AUTH_MODE is unset and a token exists (what Ray does for 'auto')."""
    source = _token_source()
    if os.environ.get(AUTH_MODE_ENV) is None and source is not None:
        token_mode_on()
    return source


@contextmanager
def _quiet_stderr():
    """Silence fd 2 (Ray's C++ client logs a warning line per failed attempt) for a short probe."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def probe(address: str, timeout_s: float = PROBE_TIMEOUT_S, token_source: str | None = None) -> None:
    """One TCP connect and one GCS call; raise ClusterError (one line) when attaching cannot work."""
    host, port = split_address(address)
    try:
        socket.create_connection((host, port), timeout=min(timeout_s, 5.0)).close()
    except OSError as e:
        raise ClusterError(f"no Ray cluster at {address}: cannot connect ({e.strerror or e})") from None
    if os.environ.get(AUTH_MODE_ENV, "").lower() == "token" and token_source is None:
        raise ClusterError(f"Ray cluster at {address}: RAY_AUTH_MODE=token but no token found "
                           "(set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH, or put it in ~/.ray/auth_token)")
    outcome: dict = {}

    def call():
        try:
            outcome["cluster_id"] = gcs_cluster_id(address)
        except BaseException as e:  # noqa: BLE001 - reported below
            outcome["error"] = e

    with _quiet_stderr():
        t = threading.Thread(target=call, name="smpsim-gcs-probe", daemon=True)
        t.start()
        t.join(timeout_s)
    if "cluster_id" in outcome:
        return
    err = outcome.get("error")
    if err is None:
        raise ClusterError(f"Ray cluster at {address}: the GCS did not answer within {timeout_s:g} s")
    from ray.exceptions import AuthenticationError
    if isinstance(err, AuthenticationError):
        if token_source is None:
            raise ClusterError(f"Ray cluster at {address} requires an authentication token and none was found "
                               "(set RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH, or put it in ~/.ray/auth_token)") from None
        raise ClusterError(f"Ray cluster at {address} rejected the authentication token from {token_source} "
                           "(wrong token for this cluster)") from None
    raise ClusterError(f"Ray cluster at {address} did not answer: {_first_line(err)}") from None


def attach(address: str) -> ClusterConnection:
    """Connect this process to the running cluster at HOST:PORT (which keeps running after close())."""
    if "://" in address:
        raise ClusterError(f"Ray address {address!r}: Ray Client (ray://) addresses are not supported; "
                           "give the GCS HOST:PORT")
    host, _ = split_address(address)
    source = _enable_token_auth_if_available()
    probe(address, token_source=source)
    loop = is_loopback(host)
    # On a loopback cluster the driver's node is the head's (127.0.0.1, or another 127.x a head was given).
    node_ip = (host if host.startswith("127.") else "127.0.0.1") if loop else None
    try:
        with loopback_mode() if loop else nullcontext():
            ctx = ray.init(address=address, _node_ip_address=node_ip, **_init_kwargs())
    except Exception as e:
        raise ClusterError(f"could not attach to the Ray cluster at {address}: {_first_line(e)}") from None
    return ClusterConnection(ctx.address_info["address"], started=False, initialised=True)


def connect(address: str | None = None, num_cpus: int = LOCAL_NUM_CPUS) -> ClusterConnection:
    """Use the Ray this process already has, else attach to `address`/RAY_ADDRESS, else start a local one."""
    if ray.is_initialized():
        return ClusterConnection(ray.get_runtime_context().gcs_address, started=False, initialised=False)
    target = resolve_address(address)
    if target is None:
        return start_local(num_cpus)
    return attach(target)


def _first_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:300]
