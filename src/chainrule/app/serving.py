"""How the drawing server is served: uvicorn, with limits for clients that connect and never finish
their request. ``chainrule draw`` and ``replay.running_server`` (the tests, the benchmark) both serve
through ``server_config``, so that what is tested is what runs."""

from __future__ import annotations

import asyncio
import ipaddress

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

REQUEST_SECONDS = 20  # to send a whole request; requests.read_body answers 408 at BODY_SECONDS before that
MAX_CONNECTIONS = 64  # open at once, WebSockets included; beyond, uvicorn answers 503 (a page uses a few)
MAX_PER_DEVICE = 24  # open at once from one address other than this machine's: a page uses up to 7


class DeadlineProtocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, closing a connection whose client has not sent its whole request
    REQUEST_SECONDS after the connection opened or after its last answer. uvicorn's keep-alive timer
    stops at the first byte, so a client sending half a request head or body was held for ever (its
    head is bounded by h11 to 16 KiB, its unread body by uvicorn to about 64 KiB). A connection from
    another device that already holds MAX_PER_DEVICE is closed at once."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if self._crowding():
            transport.close()
            return
        self._arm()

    def _crowding(self) -> bool:
        """True if this connection's device (LAN mode) already holds MAX_PER_DEVICE of the server's
        connections, WebSockets included: one device holding all MAX_CONNECTIONS, even idle, made
        the server answer 503 to everyone. This machine's own clients are not counted per device."""
        host = self.client[0] if self.client else None
        try:
            if host is None or ipaddress.ip_address(host.split("%")[0]).is_loopback:
                return False
        except ValueError:  # not an IP address: no device to count
            return False
        return sum(getattr(other, "client", None) is not None and other.client[0] == host
                   for other in self.connections) > MAX_PER_DEVICE

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(REQUEST_SECONDS, self._close_if_unfinished)

    def _close_if_unfinished(self) -> None:
        upgraded = self.transport.get_protocol() is not self  # a WebSocket now: its own protocol times it
        if not upgraded and self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and not self.transport.is_closing():
            self.transport.close()


class QuietWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's WebSocket protocol without the ERROR lines a hostile client could write into the
    log at will: a handshake refused with a denial response (the Guard's 403 to another site's
    page) was logged as "returned without completing handshake" (uvicorn PR #3138 marks the
    handshake complete, as here), and a text message that is not UTF-8 with a traceback; it is
    closed with code 1007 as before, and logged on one line."""

    async def send(self, message) -> None:
        await super().send(message)
        if message["type"] == "websocket.http.response.body" and not message.get("more_body", False):
            self.handshake_complete = True

    def send_receive_event_to_app(self) -> None:
        if self.curr_msg_data_type == "text" and not self.close_sent:
            try:
                b"".join(self.frames).decode()
            except UnicodeDecodeError:
                self.frames = []
                self.logger.info("WebSocket text message that is not UTF-8 refused (close code 1007)")
                self.conn.send_close(1007)
                self.handle_parser_exception()
                return
        super().send_receive_event_to_app()


def server_config(app, host: str, port: int, **options) -> uvicorn.Config:
    """uvicorn's settings for the drawing server ``app``: the request deadline, quiet refusals, at most
    MAX_CONNECTIONS connections, and a WebSocket holding at most 4 unread messages of at most 2 MB
    (uvicorn's defaults: 32 of 16 MB)."""
    return uvicorn.Config(app, host=host, port=port, http=DeadlineProtocol, ws=QuietWebSocketProtocol,
                          limit_concurrency=MAX_CONNECTIONS, ws_max_size=2_000_000, ws_max_queue=4, **options)
