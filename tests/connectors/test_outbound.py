"""The outbound guard (issue 16 §1): address classes, allow list, redirects, both clients.

No internet: literal addresses go through the real resolver (numeric forms never hit
DNS), names through fake DNS answers, and the servers listen on 127.0.0.1 / 127.0.0.2.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from pydantic import ValidationError

from connectors.errors import Fatal, Transient
from connectors.jira import JiraAuth, JiraClient
from connectors.outbound import OutboundPolicy, OutboundRefused, guard_session, refused_class
from connectors.trello import RateLimiter, TrelloClient

PUBLIC = OutboundPolicy()  # what a hosted deployment runs with: nothing internal allowed


def fake_dns(answers: dict[str, list[str]], calls: list[str] | None = None) -> Callable[..., list[tuple[Any, ...]]]:
    """A ``getaddrinfo`` answering from ``answers`` (name -> addresses, in order), never DNS."""

    def resolve(host: str, port: int, *_: Any, **__: Any) -> list[tuple[Any, ...]]:
        if calls is not None:
            calls.append(host)
        if host not in answers:  # a literal address resolves as usual; any other name fails
            return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        out: list[tuple[Any, ...]] = []
        for a in answers[host]:
            if ":" in a:
                out.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (a, port, 0, 0)))
            else:
                out.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)))
        return out

    return resolve


# --- a tiny HTTP server on a chosen loopback address ---------------------------------------


@dataclass
class Server:
    url: str
    hits: list[str] = field(default_factory=list)


@pytest.fixture
def serve() -> Iterator[Callable[..., Server]]:
    """``serve(host, redirect_to=None)``: a server recording every path it is asked for.

    With ``redirect_to`` every request is answered ``302`` to that base URL + the path,
    otherwise ``200 {"ok": true}``.
    """
    stops: list[Callable[[], None]] = []

    def start(host: str, redirect_to: str | None = None, body: bytes = b'{"ok": true}', status: int = 200) -> Server:
        server_ref: list[Server] = []

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                server_ref[0].hits.append(self.path)
                if redirect_to is not None:
                    self.send_response(302)
                    self.send_header("Location", redirect_to + self.path)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer  # noqa: N815 - http.server's naming

            def log_message(self, *args: Any) -> None:
                pass

        httpd = ThreadingHTTPServer((host, 0), Handler)
        thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        server = Server(f"http://{host}:{httpd.server_address[1]}")
        server_ref.append(server)

        def stop() -> None:
            httpd.shutdown()
            httpd.server_close()

        stops.append(stop)
        return server

    yield start
    for stop in stops:
        stop()


# --- every address class ----------------------------------------------------------------------

REFUSED_LITERALS = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "0.0.0.0": "unspecified",  # noqa: S104 - an address under test, not a bind
    "169.254.169.254": "link-local",  # the cloud metadata service
    "169.254.1.1": "link-local",
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "172.31.255.254": "private",
    "192.168.1.1": "private",
    "100.64.0.1": "CGNAT",
    "100.127.255.254": "CGNAT",
    "224.0.0.1": "multicast",
    "239.255.255.250": "multicast",
    "240.0.0.1": "reserved",
    "255.255.255.255": "reserved",
    "192.0.2.1": "non-public",  # documentation range
    "198.18.0.1": "non-public",  # benchmarking
    "::1": "loopback",
    "::": "unspecified",
    "fe80::1": "link-local",
    "fc00::1": "private (ULA)",
    "fd00:ec2::254": "private (ULA)",  # the AWS IPv6 metadata service
    "ff02::1": "multicast",
    "::ffff:127.0.0.1": "loopback",  # IPv4-mapped
    "::ffff:169.254.169.254": "link-local",
    "::ffff:10.0.0.1": "private",
    "::127.0.0.1": "loopback",  # IPv4-compatible (deprecated, still routed by some stacks)
    "2002:7f00:1::": "loopback",  # 6to4 of 127.0.0.1
    "64:ff9b::a9fe:a9fe": "link-local",  # NAT64 of 169.254.169.254
    # the forms inet_aton (and so getaddrinfo) reads as 127.0.0.1
    "2130706433": "loopback",
    "0x7f000001": "loopback",
    "0x7f.0.0.1": "loopback",
    "0177.0.0.1": "loopback",
    "127.1": "loopback",
}


@pytest.mark.parametrize(("host", "kind"), sorted(REFUSED_LITERALS.items()))
def test_every_internal_address_class_is_refused_through_the_real_resolver(host: str, kind: str) -> None:
    with pytest.raises(OutboundRefused, match=rf"refused: {host} .*{kind.split()[0]}.*TASKHUB_OUTBOUND_ALLOW"):
        PUBLIC.connect(host, 80, timeout=1)


@pytest.mark.parametrize("addr", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "100.63.255.255"])
def test_public_addresses_pass_the_check(addr: str) -> None:
    import ipaddress

    assert refused_class(ipaddress.ip_address(addr)) is None
    assert PUBLIC.resolve(addr, 443)  # no connect: this machine has no internet


def test_a_name_resolving_to_loopback_is_refused(caplog: pytest.LogCaptureFixture) -> None:
    policy = OutboundPolicy.parse("", resolver=fake_dns({"jira.evil.example": ["127.0.0.1"]}))
    with pytest.raises(OutboundRefused, match="jira.evil.example resolves to a loopback address") as err:
        policy.connect("jira.evil.example", 443, timeout=1)
    # The address a name resolved to is for the operator's log, not the tenant's status page.
    assert "127.0.0.1" not in str(err.value)
    assert "address=127.0.0.1" in caplog.text


def test_one_private_answer_among_public_ones_refuses_the_name() -> None:
    policy = OutboundPolicy.parse("", resolver=fake_dns({"mixed.example": ["93.184.216.34", "10.0.0.7"]}))
    with pytest.raises(OutboundRefused, match="mixed.example resolves to a private address") as err:
        policy.resolve("mixed.example", 443)
    assert "10.0.0.7" not in str(err.value)


def test_an_ipv6_answer_is_checked_like_an_ipv4_one() -> None:
    policy = OutboundPolicy.parse("", resolver=fake_dns({"v6.example": ["2606:4700::1", "::ffff:192.168.0.1"]}))
    with pytest.raises(OutboundRefused, match="a private address"):
        policy.resolve("v6.example", 443)


def test_a_name_that_does_not_resolve_is_a_resolution_error_not_a_refusal() -> None:
    with pytest.raises(socket.gaierror):
        OutboundPolicy(resolver=fake_dns({})).resolve("nowhere.example", 443)


# --- the allow list ---------------------------------------------------------------------------


def test_allowed_cidrs_and_hosts_are_honoured_and_nothing_more() -> None:
    dns = fake_dns({
        "jira.corp.example": ["10.20.0.5"],
        "wiki.corp.example": ["10.20.0.6"],
        "build.lab.example": ["192.168.7.7"],
        "other.example": ["192.168.9.9"],
    })
    policy = OutboundPolicy.parse(" 192.168.7.0/24, jira.corp.example ,fd00:1::/64", resolver=dns)
    assert policy.resolve("jira.corp.example", 443)  # by host name
    assert policy.resolve("build.lab.example", 443)  # by CIDR
    assert policy.resolve("192.168.7.200", 443)
    assert policy.resolve("::ffff:192.168.7.1", 443)  # the mapped form of an allowed address
    assert policy.resolve("fd00:1::9", 443)
    for refused in ("wiki.corp.example", "other.example", "192.168.8.1", "127.0.0.1", "fd00:2::1", "169.254.169.254"):
        with pytest.raises(OutboundRefused):
            policy.resolve(refused, 443)


def test_a_dot_suffix_allows_a_domain_and_its_subdomains_only() -> None:
    dns = fake_dns({"corp.example": ["10.0.0.1"], "jira.corp.example": ["10.0.0.2"],
                    "evilcorp.example": ["10.0.0.3"]})
    policy = OutboundPolicy.parse(".corp.example", resolver=dns)
    assert policy.resolve("corp.example", 443) and policy.resolve("jira.corp.example", 443)
    assert policy.allows_host("JIRA.corp.example.") and not policy.allows_host("corp.example.evil")
    with pytest.raises(OutboundRefused):
        policy.resolve("evilcorp.example", 443)


@pytest.mark.parametrize("bad", ["10.0.0.0/33", "jira corp", "http://jira.example", "*.corp.example", "-x.example"])
def test_a_malformed_allow_entry_fails_at_start_up(bad: str, tmp_path: Any) -> None:
    from service.settings import Settings

    with pytest.raises(ValueError, match="TASKHUB_OUTBOUND_ALLOW"):
        OutboundPolicy.parse(bad)
    with pytest.raises(ValidationError, match="TASKHUB_OUTBOUND_ALLOW"):
        Settings(data_dir=tmp_path, outbound_allow=bad, _env_file=None)  # type: ignore[call-arg]


def test_settings_read_the_allow_list_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from service.settings import Settings

    monkeypatch.setenv("TASKHUB_OUTBOUND_ALLOW", "10.0.0.0/8,jira.internal")
    policy = Settings(data_dir=tmp_path, _env_file=None).outbound_policy  # type: ignore[call-arg]
    assert policy.allows_host("jira.internal") and not policy.allows_host("127.0.0.1")
    assert policy.registration_problem("http://jira.internal:8080") is None


# --- connect time: the checked address is the one connected to -------------------------------


def test_the_socket_goes_to_the_checked_answer_with_one_lookup(serve: Callable[..., Server]) -> None:
    """DNS rebinding: a second lookup could answer 127.0.0.1; there is none."""
    good = serve("127.0.0.2")
    bad = serve("127.0.0.1")
    port = int(good.url.rsplit(":", 1)[1])
    answers = iter([["127.0.0.2"], ["127.0.0.1"], ["127.0.0.1"]])
    calls: list[str] = []

    def rebinding(host: str, p: int, *a: Any, **k: Any) -> list[tuple[Any, ...]]:
        return fake_dns({host: next(answers)}, calls)(host, p)

    session = requests.Session()
    policy = OutboundPolicy.parse("127.0.0.2/32", resolver=rebinding)
    guard_session(session, f"http://jira.rebind.example:{port}", policy)
    assert session.get(f"http://jira.rebind.example:{port}/rest/api/2/serverInfo", timeout=5).json() == {"ok": True}
    assert calls == ["jira.rebind.example"] and good.hits == ["/rest/api/2/serverInfo"] and bad.hits == []


def test_https_keeps_the_hostname_for_sni_and_the_certificate(serve: Callable[..., Server]) -> None:
    """The pinned socket is wrapped with the URL's host name, so verification still names it."""
    import ssl

    plain = serve("127.0.0.2")  # not TLS: the handshake fails, after the guard allowed the address
    port = int(plain.url.rsplit(":", 1)[1])
    session = requests.Session()
    dns = fake_dns({"jira.tls.example": ["127.0.0.2"]})
    guard_session(session, f"https://jira.tls.example:{port}", OutboundPolicy.parse("127.0.0.2", resolver=dns))
    seen: list[str | None] = []
    original = ssl.SSLContext.wrap_socket

    def spy(self: ssl.SSLContext, sock: socket.socket, *a: Any, **k: Any) -> Any:
        seen.append(k.get("server_hostname"))
        return original(self, sock, *a, **k)

    ssl.SSLContext.wrap_socket = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(requests.exceptions.SSLError):
            session.get(f"https://jira.tls.example:{port}/", timeout=5)
    finally:
        ssl.SSLContext.wrap_socket = original  # type: ignore[method-assign]
    assert seen and set(seen) == {"jira.tls.example"}


def test_an_environment_proxy_is_not_used(serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch) -> None:
    target, proxy = serve("127.0.0.2"), serve("127.0.0.1")
    monkeypatch.setenv("HTTP_PROXY", proxy.url)
    monkeypatch.setenv("http_proxy", proxy.url)
    session = requests.Session()
    guard_session(session, target.url, OutboundPolicy.parse("127.0.0.2"))
    session.get(target.url + "/x", timeout=5)
    assert target.hits == ["/x"] and proxy.hits == []
    session.proxies = {"http": proxy.url}
    with pytest.raises(OutboundRefused, match="proxy"):
        session.get(target.url + "/y", timeout=5)
    assert proxy.hits == []


# --- redirects: a sandbox on 127.0.0.2, only 127.0.0.2/32 allowed, redirecting to 127.0.0.1 ---

ONLY_127_0_0_2 = OutboundPolicy.parse("127.0.0.2/32")


def test_jira_refuses_a_redirect_to_loopback(serve: Callable[..., Server]) -> None:
    inside = serve("127.0.0.1")
    site = serve("127.0.0.2", redirect_to=inside.url)
    client = JiraClient(site.url, JiraAuth.cloud("a@b.c", "tok"), outbound=ONLY_127_0_0_2,
                        sleep=lambda s: None, timeout=5)
    with pytest.raises(OutboundRefused, match=r"refused: http://127.0.0.1:\d+ is not this source's origin"):
        client.connect()
    assert site.hits == ["/rest/api/2/serverInfo"] and inside.hits == []


def test_trello_refuses_a_redirect_to_loopback(serve: Callable[..., Server]) -> None:
    inside = serve("127.0.0.1")
    site = serve("127.0.0.2", redirect_to=inside.url)
    api = TrelloClient("key", "token", base_url=site.url + "/1", outbound=ONLY_127_0_0_2,
                    limiter=RateLimiter(), sleep=lambda s: None)
    with pytest.raises(OutboundRefused, match=r"refused: http://127.0.0.1:\d+ is not this source's origin"):
        api.myself()
    assert len(site.hits) == 1 and site.hits[0].startswith("/1/members/me") and inside.hits == []


def test_a_redirect_within_the_origin_still_works(serve: Callable[..., Server]) -> None:
    """Same origin: the guard does not get in the way of an ordinary redirect."""
    session = requests.Session()
    target = serve("127.0.0.2")
    guard_session(session, target.url, ONLY_127_0_0_2)
    assert session.get(target.url + "/a", timeout=5).status_code == 200


# --- both clients go through the guard --------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "2130706433", "[::ffff:127.0.0.1]"])
def test_the_jira_client_is_guarded_from_its_first_request(serve: Callable[..., Server], host: str) -> None:
    inside = serve("127.0.0.1")
    port = inside.url.rsplit(":", 1)[1]
    client = JiraClient(f"http://{host}:{port}", JiraAuth.cloud("a@b.c", "tok"), sleep=lambda s: None, timeout=5)
    with pytest.raises(OutboundRefused, match="loopback"):
        client.connect()  # the library constructor's serverInfo
    assert inside.hits == []


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "0x7f000001"])
def test_the_trello_client_is_guarded(serve: Callable[..., Server], host: str) -> None:
    inside = serve("127.0.0.1")
    port = inside.url.rsplit(":", 1)[1]
    api = TrelloClient("key", "token", base_url=f"http://{host}:{port}/1", limiter=RateLimiter(),
                    sleep=lambda s: None)
    with pytest.raises(OutboundRefused, match="loopback"):
        api.myself()
    with pytest.raises(OutboundRefused):
        api.register_webhook("https://taskhub.example/webhooks/trello/1", "a" * 24, "x")
    assert inside.hits == []


def test_a_refusal_is_fatal_and_never_retried(serve: Callable[..., Server]) -> None:
    inside = serve("127.0.0.1")
    waits: list[float] = []
    client = JiraClient(inside.url, JiraAuth.cloud("a@b.c", "tok"), sleep=waits.append, timeout=5)
    with pytest.raises(Fatal) as info:
        client.connect()
    assert isinstance(info.value, OutboundRefused) and not isinstance(info.value, Transient)
    assert waits == [] and inside.hits == []


# --- error messages carry no response body ----------------------------------------------------


def test_jira_and_trello_errors_name_the_status_not_the_body(serve: Callable[..., Server]) -> None:
    secret = b"INTERNAL-SECRET-" + b"x" * 400
    site = serve("127.0.0.2", body=secret, status=400)
    jira = JiraClient(site.url, JiraAuth.cloud("a@b.c", "tok"), outbound=ONLY_127_0_0_2,
                      sleep=lambda s: None, timeout=5)
    with pytest.raises(Fatal) as jira_error:
        jira.connect()
    trello = TrelloClient("key", "token", base_url=site.url + "/1", outbound=ONLY_127_0_0_2,
                       limiter=RateLimiter(), sleep=lambda s: None)
    with pytest.raises(Fatal) as trello_error:
        trello.myself()
    for error in (jira_error.value, trello_error.value):
        assert "400" in str(error) and "Fatal" in str(error) and "127.0.0.2" in str(error)
        assert "INTERNAL-SECRET" not in str(error)
        assert (error.body or "").startswith("INTERNAL-SECRET")  # kept for the debug log


def test_trust_env_is_off_but_a_ca_bundle_from_the_environment_still_applies(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A Jira Data Center behind an internal CA keeps working without env proxies."""
    bundle = tmp_path / "corp-ca.pem"
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    api = TrelloClient("key", "token", base_url="https://trello.example/1", limiter=RateLimiter())
    assert api.session.trust_env is False and api.session.verify == str(bundle)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    assert TrelloClient("key", "token", limiter=RateLimiter()).session.verify is True


def test_an_unexpected_2xx_from_trello_keeps_its_body_out_of_the_message() -> None:
    import responses

    api = TrelloClient("key", "token", base_url="https://trello.sandbox.test/1", limiter=RateLimiter())
    with responses.RequestsMock() as mock:
        mock.get("https://trello.sandbox.test/1/members/me", status=202, body="INTERNAL-SECRET queued")
        with pytest.raises(Fatal) as info:
            api.myself()
    assert "202" in str(info.value) and "INTERNAL-SECRET" not in str(info.value)
    assert "INTERNAL-SECRET" in (info.value.body or "")


def test_an_unreadable_answer_is_classified_without_quoting_it() -> None:
    """A value the client cannot read (here DC's ``total``) is a Fatal whose text names the call,
    not the value: the message reaches ``last_run.error``, which every read token sees."""
    import json as _json
    import threading as _threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from connectors.errors import Fatal as _Fatal
    from connectors.jira import JiraAuth, JiraClient

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            answer = ({"versionNumbers": [9, 0, 0], "deploymentType": "Server", "baseUrl": "x"}
                      if "serverInfo" in self.path else {"issues": [{"id": "1"}], "total": "INTERNAL-ONLY"})
            body = _json.dumps(answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.2", 0), Handler)
    _threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        client = JiraClient(f"http://127.0.0.2:{httpd.server_address[1]}", JiraAuth.dc("pat"),
                            deployment="datacenter", outbound=OutboundPolicy.parse("127.0.0.2/32"),
                            max_attempts=1)
        with pytest.raises(_Fatal) as err:
            client.search_page("project = X", fields=["id"])
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert "non-integer total" in str(err.value) and "INTERNAL-ONLY" not in str(err.value)


def test_an_entry_with_a_port_allows_that_port_alone() -> None:
    """How the demo allows its sandboxes without allowing the API or a database on 127.0.0.1."""
    policy = OutboundPolicy.parse("127.0.0.1:18081, [::1]:8443, jira.corp.example:8443, 10.0.0.0/8:443",
                                  resolver=fake_dns({"jira.corp.example": ["10.1.2.3"]}))
    assert policy.resolve("127.0.0.1", 18081)
    assert policy.resolve("::1", 8443)
    assert policy.resolve("jira.corp.example", 8443)
    assert policy.resolve("10.9.9.9", 443)
    for host, port in (("127.0.0.1", 5432), ("::1", 18081), ("jira.corp.example", 80), ("10.9.9.9", 80)):
        with pytest.raises(OutboundRefused):
            policy.resolve(host, port)
    assert policy.registration_problem("http://127.0.0.1:18081/") is None
    assert policy.registration_problem("http://127.0.0.1:8000/") is not None
    for bad in ("127.0.0.1:0", "127.0.0.1:70000", "[::1]:99999"):
        with pytest.raises(ValueError, match="outside 1-65535"):
            OutboundPolicy.parse(bad)


def test_bare_ipv6_entries_are_networks_without_a_port() -> None:
    """The ``:port`` suffix must not eat the last group of an unbracketed IPv6 entry."""
    policy = OutboundPolicy.parse("::1, fd00::/8, 2001:db8::1:8080")
    assert [(str(n), p) for n, p in policy.networks] == [
        ("::1/128", None), ("fd00::/8", None), ("2001:db8::1:8080/128", None)]
    assert policy.resolve("::1", 5432) and policy.resolve("fd00::7", 443)
