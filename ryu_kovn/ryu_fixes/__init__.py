"""Every workaround for a bug or gap in Ryu 4.34 / eventlet, and nothing else.

Each module names the defect it repairs so it can be deleted the day the defect
is gone.  Nothing here is imported at package import time: the ``.pth`` start-up
hook imports :mod:`.eventlet_wsgi` in every interpreter of the environment.

- :mod:`.eventlet_wsgi`: ``ryu-manager`` dies at import on eventlet >= 0.30.3
  (``from eventlet.wsgi import ALREADY_HANDLED``).
- :mod:`.bgp_sockets`: TCP MD5 raises ``TypeError`` on Python 3
  (``ryu.lib.sockaddr`` pads bytes with a str), and BGP sockets carry no TTL
  setting at all (eBGP needs TTL 1 unless multihop is configured).
- :mod:`.next_hop`: Ryu takes the eBGP next hop from the session's bound
  address only; ryu-kovn needs the route-lookup source with the ``node_ips``
  substitution, re-evaluated when routing changes.
- :mod:`.connect_log`: a failed connect is reported only at INFO, in a logger
  too chatty to keep at INFO: an unreachable peer went unmentioned.
- :mod:`.circular_list`: list membership compares nodes with ``==``, which
  for destinations renders whole tables as strings (a third of a cold start).
- :mod:`.graceful_restart`: no Graceful Restart capability (RFC 4724) in the
  OPEN; End-of-RIB for unicast families is never sent (the speaker sends it).
- :mod:`.listeners`: the core listens on its first host only (it blocks on
  that listener before binding the next), so passive mode never accepts IPv6;
  and it takes any connection whose remote port is not 179 for an incoming
  one, so peers on another port are rejected in active mode.
- :mod:`.peer_output`: one UPDATE per prefix; routes learned from one peer
  passed on to the others (transit); IPv4/IPv6 unicast paths sent to peers
  that did not negotiate the family; one failed UPDATE kills the peer for good.
- :mod:`.outgoing_queue`: each peer's outgoing queue is a list linked through
  attributes set by name on every message, 6% of a 100k-prefix cold start.
- :mod:`.withdraw_order`: a withdrawal queued right after the announcement of
  the same path (before processing) was lost, leaving the route announced.
- :mod:`.rtconf_limits`: hold time < 10 s and connect retry < 10 s are refused,
  though RFC 4271 and kube-ovn allow a 3 s hold time.
- :mod:`.api_log`: ``ryu.services.protocols.bgp.api.base.call`` logs every API
  call's keyword arguments at INFO, the neighbor password included.
"""
