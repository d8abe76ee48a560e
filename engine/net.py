"""The one module that makes outbound HTTP for nodes (the `http` node, and any
tool that fetches a URL), through `httpx2`.

Every request passes a guard against server-side request forgery: the host is
resolved (all of its addresses), and loopback, private, link-local, CGNAT,
multicast, reserved and unspecified addresses are refused — also when they
hide inside an IPv6 address (IPv4-mapped, IPv4-compatible, NAT64, 6to4,
Teredo) — unless the HTTP_NODE_ALLOWED_HOSTS setting allows them. Redirects
are followed here, one hop at a time, and every hop is checked the same way.
The connection goes to the address that was checked (the Host header and TLS
SNI carry the name), so a second DNS answer cannot swap in another address.
Responses are read up to a size cap within a timeout."""
from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from typing import Any

import httpx2
from django.conf import settings

MAX_RESPONSE_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
ALLOW_SETTING = "HTTP_NODE_ALLOWED_HOSTS"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_PRIVATE_V4 = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
_UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_V4_COMPATIBLE = ipaddress.ip_network("::/96")


class NetError(Exception):
    """A request that did not produce a response. `retryable`: another attempt may help."""

    def __init__(self, message: str, *, retryable: bool = False):
        super().__init__(message)
        self.message = message
        self.retryable = retryable


class Refused(NetError):
    """The guard refused an address; the message names it and the setting that would allow it."""


@dataclass
class Response:
    status: int
    reason: str
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "
    body: bytes
    url: str  # after redirects
    content_type: str

    def text(self) -> str:
        charset = "utf-8"
        for part in self.content_type.split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:  # an unknown charset name
            return self.body.decode("utf-8", errors="replace")


# --------------------------------------------------------------------------- the guard


def refusal(ip: IPAddress) -> str | None:
    """Why an address must not be reached ("a private address"), or None for a public one."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return f"an IPv4-mapped IPv6 address (of {ip.ipv4_mapped})"
        if ip in _V4_COMPATIBLE and int(ip) > 1:
            return f"an IPv4-compatible IPv6 address (of {ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)})"
        embedded = None
        if ip in _NAT64:
            embedded, how = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF), "NAT64"
        elif ip.sixtofour is not None:
            embedded, how = ip.sixtofour, "6to4"
        elif ip.teredo is not None:
            embedded, how = ip.teredo[1], "Teredo"
        if embedded is not None:
            inner = refusal(embedded)
            if inner:
                return f"a {how} address that embeds {embedded}, {inner}"
            if how != "Teredo":
                return None  # a public IPv4 address reached through a public gateway
            return "a Teredo address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT:
        return "a carrier-grade NAT (100.64.0.0/10) address"
    if any(ip in net for net in _PRIVATE_V4) or ip in _UNIQUE_LOCAL:
        return "a private address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private or not ip.is_global:
        return "a special-purpose (non-public) address"
    return None


@dataclass(frozen=True)
class Allowlist:
    hosts: frozenset[str]
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]

    @classmethod
    def parse(cls, text: str) -> "Allowlist":
        hosts: set[str] = set()
        networks = []
        for entry in (e.strip() for e in (text or "").split(",")):
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, ip: IPAddress) -> bool:
        if host.lower().rstrip(".") in self.hosts:
            return True
        return any(ip.version == net.version and ip in net for net in self.networks)


def _allowlist() -> Allowlist:
    return Allowlist.parse(getattr(settings, ALLOW_SETTING, ""))


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address of a host (a literal address is itself), refused ones included."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        # Looked up at call time, so tests can replace socket.getaddrinfo.
        infos = await asyncio.to_thread(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise NetError(f"cannot resolve host '{host}': {exc.strerror or exc}", retryable=True) from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])  # drop an IPv6 zone id
        if ip not in addresses:
            addresses.append(ip)
    if not addresses:
        raise NetError(f"host '{host}' has no addresses", retryable=True)
    return addresses


async def check(host: str, port: int) -> list[IPAddress]:
    """The addresses to connect to; Refused if any address of the host is not allowed.

    All addresses must pass, not just the first: otherwise a name with one
    public and one private address would be reached at whichever comes first."""
    allow = _allowlist()
    addresses = await resolve(host, port)
    for ip in addresses:
        why = refusal(ip)
        if why and not allow.allows(host, ip):
            origin = "" if str(ip) == host.strip("[]") else f" (from {host})"
            raise Refused(f"{ip}{origin} is {why}; add it to {ALLOW_SETTING} to allow it")
    return addresses


# --------------------------------------------------------------------------- requests


def host_of(url: str) -> str | None:
    """The host a request to `url` goes to, parsed as `request` parses it (so a
    check on it and the request cannot disagree about tricky URLs)."""
    try:
        return httpx2.URL(url).host or None
    except (httpx2.InvalidURL, TypeError, ValueError):
        return None


def _host_header(url: httpx2.URL) -> str:
    host = url.host
    if ":" in host:
        host = f"[{host}]"
    return host if url.port is None else f"{host}:{url.port}"


def _validate_url(url: httpx2.URL) -> None:
    if url.scheme not in ("http", "https"):
        raise NetError(f"only http and https URLs can be fetched, not '{url.scheme or 'no scheme'}:' ({url})")
    if not url.host:
        raise NetError(f"the URL '{url}' has no host")


_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\x00")


def _check_headers(headers: dict[str, str]) -> None:
    """A header with a line break would split the request (and the HTTP
    library refuses it only after connecting, which looked retryable): it is
    the workflow's mistake, refused before any connection, never retried."""
    for name, value in headers.items():
        if not isinstance(name, str) or not name or any(c in name for c in _FORBIDDEN_IN_HEADERS + (":", " ")):
            raise NetError(f"the header name {name!r} is not valid; use letters, digits and dashes")
        if not isinstance(value, str):
            raise NetError(f"the header '{name}' must be text, not {type(value).__name__}")
        if any(c in value for c in _FORBIDDEN_IN_HEADERS):
            raise NetError(f"the header '{name}' has a line break (CR/LF) or NUL in its value; remove it")


async def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, Any] | None = None,
    content: bytes | None = None,
    timeout_s: float = 30.0,
    max_bytes: int = MAX_RESPONSE_BYTES,
    max_redirects: int = MAX_REDIRECTS,
) -> Response:
    """One guarded request, redirects followed and checked hop by hop.

    Raises Refused for a forbidden address, NetError for anything else that
    gave no response (timeouts and connection failures are retryable)."""
    try:
        current = httpx2.URL(url)
        if params:
            current = current.copy_merge_params(params)  # added to a query the URL already has
    except (httpx2.InvalidURL, TypeError, ValueError) as exc:
        raise NetError(f"not a valid URL: {url!r} ({exc})") from exc
    method = method.upper()
    headers = dict(headers or {})
    _check_headers(headers)
    try:
        async with asyncio.timeout(timeout_s):
            async with httpx2.AsyncClient(trust_env=False, follow_redirects=False, timeout=timeout_s, verify=_tls()) as client:
                for _hop in range(max_redirects + 1):
                    response = await _one_hop(client, method, current, headers, content, max_bytes)
                    location = response.headers.get("location")
                    if response.status not in (301, 302, 303, 307, 308) or not location:
                        return response
                    try:
                        target = current.join(location)
                    except (httpx2.InvalidURL, ValueError) as exc:
                        raise NetError(f"{current} redirected to an invalid URL {location!r}") from exc
                    if (target.scheme, target.host, target.port) != (current.scheme, current.host, current.port):
                        # A credential is for the host it was given to, not wherever it points.
                        headers = {k: v for k, v in headers.items() if k.lower() not in ("authorization", "cookie", "proxy-authorization")}
                    if response.status == 303 or (response.status in (301, 302) and method not in ("GET", "HEAD")):
                        method, content = ("HEAD" if method == "HEAD" else "GET"), None
                        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
                    current = target
                raise NetError(f"more than {max_redirects} redirects (last to {current})")
    except TimeoutError as exc:
        raise NetError(f"no complete answer from {current.host} within {timeout_s:g} s", retryable=True) from exc


async def _one_hop(client: httpx2.AsyncClient, method: str, url: httpx2.URL, headers: dict[str, str], content: bytes | None,
                   max_bytes: int) -> Response:
    _validate_url(url)
    port = url.port or (443 if url.scheme == "https" else 80)
    addresses = await check(url.host, port)
    send_headers = {k: v for k, v in headers.items() if k.lower() != "host"}
    send_headers["Host"] = _host_header(url)
    extensions = {}
    literal = _is_literal(url.host)
    if url.scheme == "https" and not literal:
        extensions["sni_hostname"] = url.host  # the certificate is checked against the name, not the address
    last_error: Exception | None = None
    for ip in addresses:
        pinned = url.copy_with(host=str(ip))
        req = client.build_request(method, pinned, headers=send_headers, content=content, extensions=extensions)
        try:
            resp = await client.send(req, stream=True)
        except httpx2.ConnectError as exc:
            if _tls_failure(exc):
                raise NetError(f"the TLS handshake with {url.host} failed: {exc}") from exc  # retrying will not fix a certificate
            last_error = exc  # try the host's next (also checked) address
            continue
        except httpx2.TimeoutException as exc:
            raise NetError(f"{method} {url} timed out ({type(exc).__name__})", retryable=True) from exc
        except httpx2.HTTPError as exc:
            raise NetError(f"{method} {url} failed: {exc or type(exc).__name__}", retryable=True) from exc
        try:
            body = await _read_capped(resp, max_bytes, url)
        finally:
            await resp.aclose()
        names = {}
        for key, value in resp.headers.multi_items():
            key = key.lower()
            names[key] = f"{names[key]}, {value}" if key in names else value
        return Response(status=resp.status_code, reason=resp.reason_phrase, headers=names, body=body, url=str(url),
                        content_type=resp.headers.get("content-type", ""))
    raise NetError(f"cannot connect to {url.host} ({', '.join(map(str, addresses))}): {last_error}", retryable=True)


async def _read_capped(resp: httpx2.Response, max_bytes: int, url: httpx2.URL) -> bytes:
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise NetError(f"the response from {url} is {int(declared):,} bytes, over the {max_bytes:,}-byte limit")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in resp.aiter_bytes():
            size += len(chunk)
            if size > max_bytes:
                raise NetError(f"the response from {url} is over the {max_bytes:,}-byte limit; stopped reading")
            chunks.append(chunk)
    except httpx2.TimeoutException as exc:
        raise NetError(f"reading the response from {url} timed out", retryable=True) from exc
    except httpx2.HTTPError as exc:
        raise NetError(f"reading the response from {url} failed: {exc or type(exc).__name__}", retryable=True) from exc
    return b"".join(chunks)


_ssl_context = None


def _tls() -> Any:
    # Loading the trust store costs tens of milliseconds; a fan-out of
    # requests shares one context (contexts are safe to share).
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx2.create_ssl_context(trust_env=False)
    return _ssl_context


def _tls_failure(exc: BaseException) -> bool:
    seen = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
        return True
    except ValueError:
        return False
