"""The one Kubernetes API client of the speaker, set up for long-lived raw watches.

Why a function of our own around ``kubernetes.client.ApiClient``:

- **Credentials with a clear failure.** ``kubeconfig`` names a file; without it the pod's
  service account is used (in-cluster). The client's own errors ("Service host/port is not
  set.") do not say which of the two was tried or what to do, and a speaker that cannot
  reach the API server must say so at start-up, not in the first watcher's backoff loop.
- **A pool sized for watches.** Every watcher holds one connection for its whole watch
  stream and takes another for a relist; the event recorder and the REST views use more.
  urllib3 discards (rather than reuses) connections beyond the pool size, so the pool must
  hold them all or every request pays a new TCP (and TLS) handshake.
- **TCP keepalive.** A watch is idle for minutes. Keepalive probes make the kernel notice a
  peer that vanished (node crash, NAT or load-balancer state lost) within about a minute,
  long before the watcher's read timeout would.
- **No model classes.** The watchers read raw JSON (see :mod:`.watch`); this client is
  never asked to deserialise into kubernetes models, and does no client-side validation.
"""

from __future__ import annotations

import os
import socket
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

# Connections in urllib3's pool per API server. Four watchers plus lists, events and
# whatever the REST views ask: 32 leaves room without holding sockets for nothing (idle
# pooled connections cost a file descriptor each, nothing on the server until used).
POOL_MAXSIZE = 32

# Idle 30 s, then a probe every 10 s, dead after 3 unanswered: about a minute.
_KEEPALIVE = (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 3))

USER_AGENT = "ryu-kovn"


class ClientConfigError(RuntimeError):
    """No usable Kubernetes credentials; the message says what was tried and what is missing."""


def _socket_options() -> list[tuple[int, int, int]]:
    """urllib3's defaults (TCP_NODELAY) plus TCP keepalive, where the platform has it."""
    from urllib3.connection import HTTPConnection

    options: list[tuple[int, int, int]] = list(HTTPConnection.default_socket_options or [])
    options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
    for name, value in _KEEPALIVE:
        if hasattr(socket, name):
            options.append((socket.IPPROTO_TCP, getattr(socket, name), value))
    return options


def load_configuration(kubeconfig: str | None) -> Any:
    """A ``kubernetes.client.Configuration`` from ``kubeconfig``, else in-cluster credentials.

    Raises :class:`ClientConfigError` naming what is missing.
    """
    configuration = k8s_client.Configuration()
    if kubeconfig:
        if not os.path.isfile(kubeconfig):
            raise ClientConfigError(f"kubeconfig {kubeconfig!r} does not exist or is not a file")
        try:
            # persist_config=False: never write refreshed tokens back into the user's file.
            k8s_config.load_kube_config(config_file=kubeconfig,
                                        client_configuration=configuration,
                                        persist_config=False)
        except (k8s_config.ConfigException, OSError, ValueError, TypeError) as exc:
            raise ClientConfigError(f"kubeconfig {kubeconfig!r} is not usable: {exc}") from exc
    else:
        try:
            k8s_config.load_incluster_config(client_configuration=configuration)
        except k8s_config.ConfigException as exc:
            missing = [v for v in ("KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT")
                       if not os.environ.get(v)]
            hint = (f" (not running in a pod: {' and '.join(missing)} not set)"
                    if missing else " (the pod's service account token or CA is missing)")
            raise ClientConfigError(
                f"no Kubernetes credentials: the kubeconfig option is not set and the "
                f"in-cluster configuration failed: {exc}{hint}") from exc
    configuration.connection_pool_maxsize = POOL_MAXSIZE
    configuration.socket_options = _socket_options()
    configuration.client_side_validation = False
    return configuration


def api_client(kubeconfig: str | None) -> k8s_client.ApiClient:
    """An ``ApiClient`` for the speaker: kubeconfig file, else in-cluster configuration.

    Only the configuration and the connection pool (``rest_client.pool_manager``) of the
    result are used by the watchers; nothing is deserialised into model classes.
    """
    client = k8s_client.ApiClient(load_configuration(kubeconfig))
    client.user_agent = USER_AGENT
    return client


__all__ = ["POOL_MAXSIZE", "ClientConfigError", "api_client", "load_configuration"]
