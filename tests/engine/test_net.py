"""engine/net.py: the guard against private addresses (DNS faked by replacing
socket.getaddrinfo, so no real network), and requests against a server this
test starts on loopback."""
from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

import pytest

from engine import net


# ----------------------------------------------------------------- a server on loopback


@dataclass
class Answer:
    status: int = 200
    body: bytes | str | Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


class LocalServer:
    """An HTTP server on 127.0.0.1 whose answers a test sets by path; it
    records every request (method, path, headers, body)."""

    def __init__(self):
        self.routes: dict[str, Callable[[dict[str, Any]], Answer] | Answer] = {}
        self.requests: list[dict[str, Any]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _handle(self):
                length = int(self.headers.get("Content-Length") or 0)
                seen = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": self.rfile.read(length)}
                server.requests.append(seen)
                route = server.routes.get(self.path.split("?", 1)[0], Answer(404, b"no such route"))
                answer = route(seen) if callable(route) else route
                if answer.delay_s:
                    import time

                    time.sleep(answer.delay_s)
                body = answer.body
                headers = dict(answer.headers)
                if not isinstance(body, (bytes, str)):
                    body = json.dumps(body)
                    headers.setdefault("Content-Type", "application/json")
                if isinstance(body, str):
                    body = body.encode()
                self.send_response(answer.status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.stop()


@pytest.fixture
def fake_dns(monkeypatch):
    """Answer getaddrinfo from a table: host -> addresses. Unknown hosts do not resolve."""
    table: dict[str, list[str]] = {}
    monkeypatch.setattr(socket, "getaddrinfo", _getaddrinfo_from(table))
    return table


def _getaddrinfo_from(table):
    def getaddrinfo(host, port, *args, **kwargs):
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port) if ":" not in a else (a, port, 0, 0))
            for a in table[host]
        ]

    return getaddrinfo


def check(host: str, port: int = 80):
    return asyncio.run(net.check(host, port))


# ----------------------------------------------------------------- the guard


@pytest.mark.parametrize(
    "address, kind",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.0.0.5", "private"),
        ("172.16.3.4", "private"),
        ("192.168.1.1", "private"),
        ("fd12:3456::1", "private"),
        ("169.254.169.254", "link-local"),  # the cloud metadata endpoint
        ("fe80::1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("240.0.0.1", "reserved"),
        ("::ffff:127.0.0.1", "IPv4-mapped"),
        ("::ffff:8.8.8.8", "IPv4-mapped"),
        ("::10.0.0.1", "IPv4-compatible"),
        ("2002:a00:1::1", "6to4 address that embeds 10.0.0.1, a private"),
        ("2002:7f00:1::1", "6to4 address that embeds 127.0.0.1, a loopback"),
        ("64:ff9b::a9fe:a9fe", "NAT64 address that embeds 169.254.169.254, a link-local"),
        # Teredo client 192.168.0.1, stored inverted in the last 32 bits.
        ("2001:0:4136:e378:8000:63bf:3f57:fffe", "Teredo address that embeds 192.168.0.1, a private"),
    ],
)
def test_non_public_addresses_are_refused_with_what_they_are(fake_dns, settings, address, kind):
    settings.HTTP_NODE_ALLOWED_HOSTS = ""
    fake_dns["intranet.local"] = [address]
    with pytest.raises(net.Refused) as refused:
        check("intranet.local")
    message = str(refused.value)
    assert message.startswith(f"{ipaddress.ip_address(address)} (from intranet.local) is ")
    assert kind in message
    assert message.endswith("add it to HTTP_NODE_ALLOWED_HOSTS to allow it")


def test_public_addresses_pass(fake_dns, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ""
    fake_dns["api.example.com"] = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "2002:808:808::1"]
    assert [str(a) for a in check("api.example.com")] == ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "2002:808:808::1"]


def test_one_private_address_among_public_ones_refuses_the_host(fake_dns, settings):
    # Whichever address a client tried first, a name must not lead inside.
    settings.HTTP_NODE_ALLOWED_HOSTS = ""
    fake_dns["mixed.example.com"] = ["93.184.216.34", "10.1.2.3"]
    with pytest.raises(net.Refused, match=r"10\.1\.2\.3 \(from mixed\.example\.com\) is a private address"):
        check("mixed.example.com")


def test_a_literal_address_is_named_once(settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = ""
    with pytest.raises(net.Refused) as refused:
        check("10.0.0.5")
    assert str(refused.value) == "10.0.0.5 is a private address; add it to HTTP_NODE_ALLOWED_HOSTS to allow it"


@pytest.mark.parametrize("allowed", ["intranet.local", "INTRANET.local.", "10.0.0.5", "10.0.0.0/8", "192.168.0.0/16, 10.0.0.0/24"])
def test_the_allowlist_admits_by_name_address_or_network(fake_dns, settings, allowed):
    settings.HTTP_NODE_ALLOWED_HOSTS = allowed
    fake_dns["intranet.local"] = ["10.0.0.5"]
    assert [str(a) for a in check("intranet.local")] == ["10.0.0.5"]


def test_the_allowlist_admits_only_what_it_names(fake_dns, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "10.0.0.0/24,other.local"
    fake_dns["intranet.local"] = ["10.0.1.5"]
    with pytest.raises(net.Refused, match=r"10\.0\.1\.5 \(from intranet\.local\)"):
        check("intranet.local")


def test_an_unresolvable_host_is_a_retryable_error(fake_dns):
    with pytest.raises(net.NetError) as failed:
        check("nowhere.invalid")
    assert "cannot resolve host 'nowhere.invalid'" in failed.value.message and failed.value.retryable


def test_only_http_and_https_are_fetched(settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    with pytest.raises(net.NetError, match="only http and https"):
        asyncio.run(net.request("GET", "file:///etc/passwd"))


# ----------------------------------------------------------------- requests


def test_the_connection_goes_to_the_checked_address_with_the_name_as_host(server, monkeypatch, settings):
    # DNS rebinding: the name is resolved once, checked, and that address is
    # the one connected to; the Host header still carries the name.
    settings.HTTP_NODE_ALLOWED_HOSTS = "app.internal"
    answers = iter([["127.0.0.1"]] + [["10.9.9.9"]] * 5)  # a rebinding name: checked once, then elsewhere

    class Rebinding(dict):
        def __contains__(self, host):
            return host == "app.internal"

        def __getitem__(self, host):
            return next(answers)

    monkeypatch.setattr(socket, "getaddrinfo", _getaddrinfo_from(Rebinding()))
    server.routes["/hello"] = Answer(200, {"hi": 1})
    port = server.httpd.server_address[1]
    response = asyncio.run(net.request("GET", f"http://app.internal:{port}/hello"))
    assert response.status == 200 and json.loads(response.body) == {"hi": 1}
    assert server.requests[0]["headers"]["Host"] == f"app.internal:{port}"
    assert response.url == f"http://app.internal:{port}/hello"


def test_every_redirect_hop_is_checked(server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    server.routes["/go"] = Answer(302, headers={"Location": "http://10.0.0.5/admin"})
    with pytest.raises(net.Refused) as refused:
        asyncio.run(net.request("GET", server.url + "/go"))
    assert str(refused.value) == "10.0.0.5 is a private address; add it to HTTP_NODE_ALLOWED_HOSTS to allow it"
    assert len(server.requests) == 1


def test_redirects_are_followed_up_to_five(server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    for i in range(7):
        server.routes[f"/r{i}"] = Answer(302, headers={"Location": f"/r{i + 1}"})
    server.routes["/r3"] = Answer(200, "arrived")
    response = asyncio.run(net.request("GET", server.url + "/r0"))
    assert (response.status, response.body, response.url) == (200, b"arrived", server.url + "/r3")
    server.routes["/r3"] = Answer(302, headers={"Location": "/r4"})
    with pytest.raises(net.NetError, match="more than 5 redirects"):
        asyncio.run(net.request("GET", server.url + "/r0"))


def test_a_redirect_to_another_origin_does_not_carry_the_authorization(server, settings):
    other = LocalServer()
    try:
        settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
        server.routes["/start"] = Answer(307, headers={"Location": other.url + "/land"})
        other.routes["/land"] = Answer(200, "ok")
        asyncio.run(net.request("GET", server.url + "/start", headers={"Authorization": "Bearer sk-secret"}))
        assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-secret"
        assert "Authorization" not in other.requests[0]["headers"]
    finally:
        other.stop()


def test_a_303_turns_a_post_into_a_get_without_the_body(server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    server.routes["/submit"] = Answer(303, headers={"Location": "/result"})
    server.routes["/result"] = Answer(200, "done")
    asyncio.run(net.request("POST", server.url + "/submit", content=b"payload", headers={"Content-Type": "text/plain"}))
    assert [(r["method"], r["path"], r["body"]) for r in server.requests] == [("POST", "/submit", b"payload"), ("GET", "/result", b"")]


def test_a_response_over_the_cap_is_refused(server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    server.routes["/big"] = Answer(200, b"x" * 2048)
    with pytest.raises(net.NetError, match="over the 1,000-byte limit") as failed:
        asyncio.run(net.request("GET", server.url + "/big", max_bytes=1000))
    assert not failed.value.retryable


def test_a_slow_server_times_out_retryably(server, settings):
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    server.routes["/slow"] = Answer(200, "late", delay_s=1.0)
    with pytest.raises(net.NetError) as failed:
        asyncio.run(net.request("GET", server.url + "/slow", timeout_s=0.2))
    assert failed.value.retryable
    assert "0.2 s" in failed.value.message or "timed out" in failed.value.message


def test_https_to_a_pinned_address_checks_the_certificate_against_the_name(monkeypatch, settings, tmp_path):
    """The connection goes to the checked IP, yet TLS (SNI and the certificate
    check) is for the name: a certificate for another name is refused."""
    import datetime
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "app.internal")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("app.internal")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))

    server = LocalServer()
    try:
        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
        server.httpd.socket = server_tls.wrap_socket(server.httpd.socket, server_side=True)
        server.routes["/secure"] = Answer(200, "over tls")
        client_tls = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))
        monkeypatch.setattr(net, "_ssl_context", client_tls)
        settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
        monkeypatch.setattr(socket, "getaddrinfo", _getaddrinfo_from({"app.internal": ["127.0.0.1"], "wrong.internal": ["127.0.0.1"]}))
        port = server.httpd.server_address[1]

        response = asyncio.run(net.request("GET", f"https://app.internal:{port}/secure"))
        assert (response.status, response.body) == (200, b"over tls")

        with pytest.raises(net.NetError) as failed:
            asyncio.run(net.request("GET", f"https://wrong.internal:{port}/secure"))
        assert "TLS handshake with wrong.internal failed" in failed.value.message and "wrong.internal" in failed.value.message
        assert not failed.value.retryable
    finally:
        server.stop()


@pytest.mark.parametrize("headers", [{"X-A": "one\r\nX-Injected: 1"}, {"X-A": "line\nbreak"}, {"X-A": "nul\x00"}, {"Bad Name": "v"}, {"X\r\nY": "v"}])
def test_a_header_with_a_line_break_fails_at_once_without_connecting(server, settings, headers):
    # It used to be classed as retryable: the target saw four empty connections before the step failed.
    settings.HTTP_NODE_ALLOWED_HOSTS = "127.0.0.1"
    server.routes["/hello"] = Answer(200, {"hi": 1})
    with pytest.raises(net.NetError) as failed:
        asyncio.run(net.request("GET", server.url + "/hello", headers=headers))
    assert failed.value.retryable is False
    assert "header" in failed.value.message
    assert server.requests == []
