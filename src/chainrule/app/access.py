"""Who may use the drawing server. A server on localhost is reachable by every web page its user
visits, so every request, the page, static files and the WebSocket included, passes ``Guard``:

* its Host must name this server: a localhost name (localhost, 127.0.0.1, [::1]) or a host of the
  URL printed for other devices (so that a DNS-rebinding page, whose Host is its own name, is refused);
* an Origin, when the browser sends one, must be this very server (scheme://Host), and a
  Sec-Fetch-Site, when sent, "same-origin" or "none" (the user typed the address);
* a POST must say ``Content-Type: application/json``, which no cross-site form or no-preflight
  fetch can send;
* without a token only a loopback peer with a localhost Host is served. In LAN mode
  (``Access.lan``: ``chainrule draw --host 0.0.0.0``) every other request must carry the server's
  random token, as Jupyter does: ``?token=...`` in the URL (which also sets a cookie for the rest of
  the visit), the cookie, or ``Authorization: token ...``.

A refused request gets 403 (415 for the content type) and {"error": "<one line>"}; a refused
WebSocket gets the same as its handshake answer."""

from __future__ import annotations

import ipaddress
import re
import secrets
import socket
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qs, urlsplit

from starlette.datastructures import Headers
from starlette.websockets import WebSocket

from .requests import error_response

LOCAL_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
_HOST = re.compile(r"^(?:\[(?P<ipv6>[0-9a-fA-F:.]+)\]|(?P<name>[^:\[\]/@\s]+))(?::(?P<port>\d{1,5}))?$")


@dataclass(frozen=True)
class Access:
    """The rules of one server: ``token`` (LAN mode) or None (this machine only), ``hosts``, the
    host names of the URLs printed for other devices, and ``any_address``, whether any IP address
    is a valid Host too (a server on 0.0.0.0 answers on all of the machine's addresses; an IP
    address cannot be rebound, so only names need listing)."""

    token: str | None = None
    hosts: tuple[str, ...] = ()
    any_address: bool = False

    @classmethod
    def lan(cls, hosts: tuple[str, ...] | list[str], any_address: bool = False) -> "Access":
        """LAN mode with a fresh random token (128 bits, URL-safe)."""
        return cls(secrets.token_urlsafe(16), tuple(h.lower() for h in hosts), any_address)

    def share_url(self, port: int) -> str | None:
        """The URL other devices open (with the token), or None for a server of this machine only."""
        if self.token is None or not self.hosts:
            return None
        host = self.hosts[0]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/?token={self.token}"

    def host_allowed(self, name: str) -> bool:
        if name in LOCAL_NAMES or name in self.hosts:
            return True
        return self.any_address and _is_ip(name)

    def refusal(self, scope: dict) -> tuple[int, str] | None:
        """(status, message) if the request must be refused, else None."""
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        match = _HOST.match(host)
        name = (match["ipv6"] or match["name"]).lower().rstrip(".") if match else ""
        if not self.host_allowed(name):
            return 403, f"Host {host[:100]!r} refused: this server answers only as {self._names()}"
        origin = headers.get("origin")
        if origin is not None and not _same_origin(origin, host):
            return 403, f"cross-origin request from {origin[:100]!r} refused"
        site = headers.get("sec-fetch-site")
        if site is not None and site not in ("same-origin", "none"):
            return 403, f"{site} request refused: only this server's own page may call it"
        if not (_loopback(scope.get("client")) and name in LOCAL_NAMES):
            if self.token is None:
                return 403, "this server answers this machine only (start it with --host 0.0.0.0 for other devices)"
            # as bytes: compare_digest refuses str with characters outside ASCII, which anyone may send
            presented = (self.presented_token(scope, headers) or "").encode("utf-8", "replace")
            if not secrets.compare_digest(presented, self.token.encode()):
                return 403, "this server needs its token: open the link with ?token=... that chainrule draw printed"
        if scope["type"] == "http" and scope["method"] == "POST":
            media = headers.get("content-type", "").split(";")[0].strip().lower()
            if media != "application/json":
                return 415, f"send JSON with Content-Type: application/json, not {media or 'no content type'!r}"
        return None

    def presented_token(self, scope: dict, headers: Headers) -> str | None:
        """The token in the query (?token=), the Authorization header (token X) or the cookie."""
        query = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token")
        if query:
            return query[0]
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() in ("token", "bearer") and value:
            return value.strip()
        cookie = SimpleCookie()
        try:
            cookie.load(headers.get("cookie", ""))
        except CookieError:
            return None
        morsel = cookie.get(cookie_name(scope))
        return morsel.value if morsel else None

    def _names(self) -> str:
        names = [*sorted(LOCAL_NAMES), *self.hosts] + (["any IP address of this machine"] if self.any_address else [])
        return ", ".join(names)


def cookie_name(scope: dict) -> str:
    """One cookie per port: browsers share cookies between the ports of a host."""
    server = scope.get("server") or ("", 0)
    return f"chainrule-token-{server[1]}"


class Guard:
    """ASGI middleware applying ``access`` to every HTTP request and WebSocket handshake."""

    def __init__(self, app, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        refused = self.access.refusal(scope)
        if refused is not None:
            response = error_response(refused[1], refused[0])
            if scope["type"] == "http":
                return await response(scope, receive, send)
            websocket = WebSocket(scope, receive, send)
            if "websocket.http.response" in scope.get("extensions", {}):
                return await websocket.send_denial_response(response)
            return await websocket.close(1008, refused[1][:120])
        if scope["type"] == "http" and self.access.token and b"token=" in scope.get("query_string", b""):
            send = self._setting_cookie(scope, send)
        await self.app(scope, receive, send)

    def _setting_cookie(self, scope, send):
        """Keep the token of ?token= in a cookie, so the page's own requests carry it."""
        value = f"{cookie_name(scope)}={self.access.token}; Path=/; HttpOnly; SameSite=Strict".encode()

        async def sending(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", value)]}
            await send(message)
        return sending


def lan_addresses() -> list[str]:
    """This machine's IPv4 addresses other than loopback and link-local (read from the network
    interfaces; nothing is sent), for the URLs printed in LAN mode."""
    import ifaddr

    found = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                address = ipaddress.ip_address(ip.ip)
                if not (address.is_loopback or address.is_link_local) and ip.ip not in found:
                    found.append(ip.ip)
    return found


def host_names() -> list[str]:
    """This machine's own name (and its .local mDNS name), valid Hosts in LAN mode."""
    name = socket.gethostname().lower()
    return [name, f"{name}.local"] if name and name != "localhost" else []


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and parts.netloc.lower() == host.lower() and not parts.path


def _loopback(client) -> bool:
    if not client:
        return False
    address = _ip(client[0])
    if address is not None and getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return address is not None and address.is_loopback


def _is_ip(name: str) -> bool:
    return _ip(name) is not None


def _ip(text: str):
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None
