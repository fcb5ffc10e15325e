"""The outbound guard: every request taskhub makes to a tenant-given URL goes through it.

A tenant admin chooses a source's ``base_url``, so without a guard the sync would
fetch ``http://127.0.0.1:5432``, ``http://169.254.169.254/`` (cloud metadata) or
anything on the deployment's private network, and follow a redirect there from a
public-looking host. Checking the URL string is not enough (DNS can answer
differently at connect time, ``2130706433`` is ``127.0.0.1``, redirects move
elsewhere), so the check happens where the socket is opened:

- ``OutboundPolicy.connect(host, port)`` is the one core check: it resolves ``host``
  itself, refuses the whole name if *any* answer is in a refused class (loopback,
  link-local, private, CGNAT, multicast, unspecified, reserved or otherwise not
  globally routable, also when wrapped in IPv4-mapped/compatible, 6to4 or NAT64
  IPv6 forms) unless the operator allows that address or host, and then connects to
  exactly the checked addresses — there is no second lookup that DNS rebinding could
  answer differently. Any HTTP stack calls this (``requests`` below; an httpx
  transport for outbound events would call the same method).
- ``OutboundAdapter`` is the ``requests`` binding: its urllib3 connections open their
  socket through ``connect``; TLS still wraps that socket with the *hostname*, so SNI
  and certificate checks are unchanged. The adapter is bound to one origin and
  refuses any request, redirects included, to another one, and refuses proxies.
- ``guard_session`` mounts it on a session and sets ``trust_env = False``: an
  ``HTTPS_PROXY`` from the environment would otherwise carry the request past the
  check (the proxy, not us, would connect), and ``.netrc`` credentials have no
  business being sent to a tenant's host. The one environment setting worth keeping,
  a CA bundle (``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE``, for a Jira Data Center with
  an internal CA), is applied explicitly.

The allow list is operator configuration (``TASKHUB_OUTBOUND_ALLOW``: comma-separated
CIDRs, addresses, host names, or ``.suffix`` for a domain and its subdomains); it
applies to the whole deployment. A refusal is ``OutboundRefused``, a ``Fatal`` error:
retrying cannot help.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.poolmanager import PoolManager

from connectors.errors import Fatal

__all__ = [
    "ALLOW_SETTING",
    "OutboundAdapter",
    "OutboundPolicy",
    "OutboundRefused",
    "Resolver",
    "guard_session",
    "origin_of",
    "refused_class",
]

ALLOW_SETTING = "TASKHUB_OUTBOUND_ALLOW"
log = logging.getLogger("connectors.outbound")

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
# ``socket.getaddrinfo``'s shape: tests inject fake DNS answers through it.
Resolver = Callable[..., Sequence[tuple[Any, ...]]]


class OutboundRefused(Fatal):
    """The guard refused a destination (address class, origin or proxy). Never retried."""


_RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_ULA = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPAT = ipaddress.ip_network("::/96")
_V4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def _embedded_ipv4(addr: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 form carries (mapped, compatible, translated, 6to4, NAT64).

    Python 3.11's ``is_loopback`` is False for ``::ffff:127.0.0.1``, yet the kernel
    delivers a connection to it on 127.0.0.1; the carried address is what gets checked.
    """
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr.sixtofour is not None:
        return addr.sixtofour
    if addr.teredo is not None:
        return addr.teredo[1]
    for net in (_V4_COMPAT, _V4_TRANSLATED, _NAT64):
        if addr in net:
            return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
    return None


def refused_class(addr: IPAddress) -> str | None:
    """Why ``addr`` is not a public destination (``"a loopback address"``…), or None."""
    if addr.is_unspecified:
        return "an unspecified address"
    if addr.is_loopback:
        return "a loopback address"
    if isinstance(addr, ipaddress.IPv6Address):
        inner = _embedded_ipv4(addr)
        if inner is not None:
            reason = refused_class(inner)
            return f"{reason} ({inner} inside {addr})" if reason else None
    if addr.is_link_local:
        return "a link-local address"
    if addr.is_multicast:
        return "a multicast address"
    if addr in _CGNAT:
        return "a shared (CGNAT) address"
    if any(addr in net for net in _RFC1918):
        return "a private address"
    if addr in _ULA:
        return "a private (ULA) address"
    if isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local:
        return "a site-local address"
    if addr.is_reserved:
        return "a reserved address"
    if not addr.is_global:
        return "a non-public address"
    return None


def _split_port(entry: str) -> tuple[str, int | None]:
    """``"127.0.0.1:18081"`` → ``("127.0.0.1", 18081)``; ``"[::1]:8443"`` → ``("::1", 8443)``;
    an entry without a port (a bare IPv6 address or network included) is returned as it is."""
    if entry.startswith("["):
        inside, _, rest = entry[1:].partition("]")
        if rest.startswith(":") and rest[1:].isdigit():
            return inside, _port(entry, rest[1:])
        return entry, None
    head, sep, tail = entry.rpartition(":")
    if sep and ":" not in head and tail.isdigit():  # one colon: host or IPv4 (or CIDR) and a port
        return head, _port(entry, tail)
    return entry, None


def _port(entry: str, digits: str) -> int:
    port = int(digits)
    if not 0 < port < 65536:
        raise ValueError(f"{ALLOW_SETTING}: {entry!r} names port {port}, outside 1-65535")
    return port


def _article_stripped(reason: str) -> str:
    """``"a loopback address (127.0.0.1 inside ::ffff:7f00:1)"`` → ``"a loopback address"``:
    the reason without the addresses a resolved name led to."""
    return reason.split(" (", 1)[0]


def _literal_address(host: str) -> IPAddress | None:
    """``host`` as an address if it is one in any form the resolver accepts.

    ``inet_aton`` reads ``2130706433``, ``0x7f000001``, ``0177.0.0.1`` and ``127.1`` as
    127.0.0.1 — as ``getaddrinfo`` does — so registration sees through them too.
    """
    text = host.strip("[]").split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if text and all(c in "0123456789abcdefxABCDEFX." for c in text) and text[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def _normal_host(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def origin_of(url: str) -> tuple[str, str, int]:
    """``(scheme, host, port)`` with the default port filled in: what "same origin" compares."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    default = 443 if scheme == "https" else 80
    return scheme, _normal_host(parts.hostname or ""), port or default


@dataclass(frozen=True)
class OutboundPolicy:
    """What the operator allows beyond the public internet, and how names are resolved.

    ``networks`` and ``hosts`` come from ``TASKHUB_OUTBOUND_ALLOW``; an empty policy
    (the default, and what a hosted many-tenant deployment keeps) allows public
    addresses only. An entry may name a port (``127.0.0.1:18081``, ``[::1]:8443``,
    ``jira.corp.example:8443``): it then allows that port alone, so the demo can allow its
    sandboxes without allowing every service on the loopback address. ``resolver`` is
    ``socket.getaddrinfo`` except in tests.
    """

    networks: tuple[tuple[IPNetwork, int | None], ...] = ()
    hosts: frozenset[tuple[str, int | None]] = frozenset()
    resolver: Resolver = field(default=socket.getaddrinfo, compare=False, repr=False)

    @classmethod
    def parse(cls, allow: str | Iterable[str] | None, *, resolver: Resolver | None = None) -> OutboundPolicy:
        """Read the allow list (comma-separated text or entries); a bad entry is a ValueError."""
        entries = allow.split(",") if isinstance(allow, str) else list(allow or ())
        networks: list[tuple[IPNetwork, int | None]] = []
        hosts: set[tuple[str, int | None]] = set()
        for raw in entries:
            entry, port = _split_port(raw.strip())
            if not entry:
                continue
            try:
                networks.append((ipaddress.ip_network(entry.strip("[]"), strict=False), port))
                continue
            except ValueError:
                pass
            name = _normal_host(entry)
            labels = name[1:].split(".") if name.startswith(".") else name.split(".")
            if not all(_HOST_LABEL.match(label) for label in labels):
                raise ValueError(
                    f"{ALLOW_SETTING}: {entry!r} is neither a CIDR, an address, a host name "
                    "nor a .domain suffix"
                )
            hosts.add((name, port))
        return cls(
            networks=tuple(networks),
            hosts=frozenset(hosts),
            resolver=resolver or socket.getaddrinfo,
        )

    def allows_host(self, host: str, port: int | None = None) -> bool:
        """True if the operator listed this host name (or a ``.suffix`` of it), for ``port``
        (None: for any port, which only an entry without a port allows)."""
        name = _normal_host(host)
        if not name:
            return False
        return any(
            (h == name or (h.startswith(".") and (name.endswith(h) or name == h[1:])))
            and (p is None or p == port)
            for h, p in self.hosts
        )

    def allows_address(self, addr: IPAddress, port: int | None = None) -> bool:
        """True if ``addr`` (or the IPv4 address it wraps) is in an allowed network, for ``port``."""
        candidates: list[IPAddress] = [addr]
        if isinstance(addr, ipaddress.IPv6Address):
            inner = _embedded_ipv4(addr)
            if inner is not None:
                candidates.append(inner)
        return any(a in net and (p is None or p == port)
                   for a in candidates for net, p in self.networks if a.version == net.version)

    def refusal(self, host: str, addr: IPAddress, port: int | None = None) -> str | None:
        """The refusal message for connecting to ``addr``:``port`` for ``host``, or None if allowed."""
        reason = refused_class(addr)
        if reason is None or self.allows_address(addr, port) or self.allows_host(host, port):
            return None
        try:
            literal = ipaddress.ip_address(_normal_host(host).split("%", 1)[0]) == addr
        except ValueError:
            literal = False
        if literal:
            return f"refused: {host} is {reason} (not in {ALLOW_SETTING})"
        # The message reaches the source's status, which every read token sees: naming the
        # address would make the guard a lookup service for the deployment's internal DNS.
        # The operator finds the address in the server log.
        log.warning("outbound.refused host=%s address=%s: %s", host, addr, reason)
        return f"refused: {host} resolves to {_article_stripped(reason)} (not in {ALLOW_SETTING})"

    def resolve(self, host: str, port: int) -> list[tuple[Any, ...]]:
        """Resolve ``host`` and check every answer: the core check, before any connect.

        Returns the ``getaddrinfo`` entries to connect to. One refused answer refuses the
        name: a round-robin of one public and one private address is not "mostly public".
        """
        answers = list(self.resolver(host, port, socket.AF_UNSPEC, socket.SOCK_STREAM))
        if not answers:
            raise socket.gaierror(socket.EAI_NONAME, f"no address for {host}")
        for family, _type, _proto, _canon, sockaddr in answers:
            if family not in (socket.AF_INET, socket.AF_INET6):
                raise OutboundRefused(f"refused: {host} resolves to a non-IP address family")
            addr = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            message = self.refusal(host, addr, port)
            if message is not None:
                raise OutboundRefused(message)
        return answers

    def connect(
        self,
        host: str,
        port: int,
        *,
        timeout: Any = None,
        source_address: tuple[str, int] | None = None,
        socket_options: Iterable[tuple[int, int, int | bytes]] | None = None,
    ) -> socket.socket:
        """A socket connected to a checked address of ``host`` (tried in resolver order).

        ``timeout`` is seconds or None (blocking); anything else (urllib3's "default"
        sentinel) leaves the socket's default. Raises ``OutboundRefused`` or ``OSError``.
        """
        error: OSError | None = None
        for family, socktype, proto, _canon, sockaddr in self.resolve(host, port):
            sock = socket.socket(family, socktype, proto)
            try:
                for option in socket_options or ():
                    sock.setsockopt(*option)
                if timeout is None or isinstance(timeout, int | float):
                    sock.settimeout(timeout)
                if source_address:
                    sock.bind(source_address)
                sock.connect(sockaddr)
                return sock
            except OSError as exc:
                error = exc
                sock.close()
        assert error is not None
        raise error

    def registration_problem(self, url: str) -> str | None:
        """Why ``url`` may not be a source's base URL (the early, clear 422), or None.

        No DNS here: the connect-time check is what protects; this catches what is
        visibly wrong in the URL itself.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = _normal_host(parts.hostname or "")
        if scheme not in ("http", "https") or not host:
            return "base_url must be an absolute https:// URL"
        literal = _literal_address(host)
        port = origin_of(url)[2]
        allowed = self.allows_host(host, port) or (literal is not None and self.allows_address(literal, port))
        if scheme == "http" and not allowed:
            return f"base_url must use https (plain http only to hosts in {ALLOW_SETTING})"
        if literal is not None:
            reason = refused_class(literal)
            if reason is not None and not allowed:
                return f"base_url refused: {literal} is {reason} (not in {ALLOW_SETTING})"
            return None
        if not allowed and _plainly_internal(host):
            return f"base_url refused: {host} is an internal host name (not in {ALLOW_SETTING})"
        return None


_INTERNAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa", ".lan", ".intranet")


def _plainly_internal(host: str) -> bool:
    """Names that can only mean this machine or a private network (RFC 6761/6762/8375)."""
    return "." not in host or host == "localhost" or host.endswith(_INTERNAL_SUFFIXES)


# --- the requests binding -----------------------------------------------------------------


class _GuardedConnectionMixin(HTTPConnection):
    """urllib3 connection whose socket comes from ``OutboundPolicy.connect``. Put before
    ``HTTPSConnection`` in a class's bases, it still comes first in the method order."""

    outbound_policy: OutboundPolicy

    def _new_conn(self) -> socket.socket:
        try:
            sock = self.outbound_policy.connect(
                self._dns_host,
                self.port,
                timeout=self.timeout,
                source_address=self.source_address,
                socket_options=self.socket_options,
            )
        except socket.gaierror as e:
            raise NameResolutionError(self.host, self, e) from e
        except TimeoutError as e:
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock


class _GuardedHTTPConnection(_GuardedConnectionMixin):
    pass


class _GuardedHTTPSConnection(_GuardedConnectionMixin, HTTPSConnection):
    pass


class _GuardedPoolMixin(HTTPConnectionPool):
    """A urllib3 pool that hands its policy to each connection it makes (before
    ``HTTPSConnectionPool`` in a class's bases, it still comes first in the method order)."""

    outbound_policy: OutboundPolicy

    def _new_conn(self) -> Any:
        conn: Any = super()._new_conn()  # one of our guarded connection classes
        conn.outbound_policy = self.outbound_policy
        return conn


class _GuardedHTTPPool(_GuardedPoolMixin):
    ConnectionCls = _GuardedHTTPConnection


class _GuardedHTTPSPool(_GuardedPoolMixin, HTTPSConnectionPool):
    ConnectionCls = _GuardedHTTPSConnection


class _GuardedPoolManager(PoolManager):
    def __init__(self, policy: OutboundPolicy, **kw: Any) -> None:
        super().__init__(**kw)
        self.outbound_policy = policy
        self.pool_classes_by_scheme = {"http": _GuardedHTTPPool, "https": _GuardedHTTPSPool}

    def _new_pool(self, scheme: str, host: str, port: int, request_context: Any = None) -> Any:
        pool: Any = super()._new_pool(scheme, host, port, request_context)  # one of our guarded pools
        pool.outbound_policy = self.outbound_policy
        return pool


class OutboundAdapter(HTTPAdapter):
    """A ``requests`` adapter bound to one origin whose every socket is checked."""

    def __init__(self, policy: OutboundPolicy, base_url: str, **kw: Any) -> None:
        self.policy = policy  # before super(): HTTPAdapter.__init__ builds the pool manager
        self.origin = origin_of(base_url)
        super().__init__(**kw)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self.poolmanager = _GuardedPoolManager(
            self.policy, num_pools=connections, maxsize=maxsize, block=block, **pool_kwargs
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise OutboundRefused("refused: a proxy would connect past the outbound guard")

    def check_origin(self, url: str) -> None:
        """Refuse ``url`` unless it is on this adapter's origin (scheme, host, port)."""
        if origin_of(url) != self.origin:
            scheme, host, port = origin_of(url)
            mine = "{}://{}:{}".format(*self.origin)
            raise OutboundRefused(
                f"refused: {scheme}://{host}:{port} is not this source's origin ({mine})"
            )

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        # Every request of the session, redirects included (resolve_redirects calls send).
        self.check_origin(request.url or "")
        return super().send(request, *args, **kwargs)


def guard_session(session: requests.Session, base_url: str, policy: OutboundPolicy) -> OutboundAdapter:
    """Put ``session`` behind the guard for ``base_url``'s origin; returns the adapter."""
    adapter = OutboundAdapter(policy, base_url)
    session.trust_env = False  # an env proxy would connect for us, past the check
    session.proxies = {}
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle and session.verify is True:  # what trust_env would have done for verification
        session.verify = bundle
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return adapter
