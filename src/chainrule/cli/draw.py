"""``chainrule draw``: the live drawing program. Starts a local web server (Starlette + uvicorn) and
opens the page in the browser: draw a digit, watch the prediction, the 28x28 input and the saliency
change with every stroke; correct wrong answers and adapt a copy of the model to them.

By default only this machine can use it. ``--host 0.0.0.0`` (or one of this machine's addresses)
opens it to phones and other devices on the network, with a random token as Jupyter does: the
printed link carries it, and the page shows the link as a QR code."""

from __future__ import annotations

import argparse
import errno
import ipaddress
import socket
import threading
import time
import webbrowser
from pathlib import Path

WILDCARDS = ("0.0.0.0", "::", "")  # listen on every address of this machine


def add_parser(sub) -> None:
    p = sub.add_parser("draw", help="draw digits in the browser and watch the network recognise them live",
                       description="Start the drawing program on http://HOST:PORT and open it in the browser. "
                       "Example: chainrule draw --model mnist800.npz")
    p.add_argument("--model", type=Path, default=None, help="model file (default: the bundled digit model)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0: phones and other "
                   "devices on your network too, through a link with a random token)")
    p.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser window")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where corrected drawings are saved (default ~/.local/share/chainrule/corrections)")
    p.add_argument("--adapt-steps", type=int, default=300, help="fine-tuning steps of the 'adapt' action (default 300)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        raise ValueError(f"--port must lie in 0..65535, got {args.port}")
    if args.adapt_steps < 1:
        raise ValueError(f"--adapt-steps must be positive, got {args.adapt_steps}")
    if args.data_dir is not None and args.data_dir.exists() and not args.data_dir.is_dir():
        raise ValueError(f"--data-dir {args.data_dir} is a file: give a folder for the corrections")
    try:
        import uvicorn

        from ..app import create_app
        from ..app.serving import server_config
    except ImportError as err:
        raise ValueError(f"the drawing program needs the app extra: pip install 'chainrule[app]' ({err})") from None
    access = access_for(args.host)
    try:
        app = create_app(args.model, args.data_dir, adapt_steps=args.adapt_steps, access=access)
    except FileNotFoundError as err:
        if args.model is not None:
            raise
        raise FileNotFoundError(f"{err}: the bundled model is missing; train one with `chainrule train "
                                "--out model.npz` and run `chainrule draw --model model.npz`") from None
    _check_free(args.host, args.port)
    server = uvicorn.Server(server_config(app, args.host, args.port, log_level="warning"))
    threading.Thread(target=_announce, args=(server, args, access), daemon=True).start()
    server.run()
    return 0 if server.started else 2


def access_for(host: str):
    """Who may use a server listening on ``host``: this machine only for a loopback address; else
    LAN mode with a token, answering as this machine's addresses (0.0.0.0, ::) or as ``host``."""
    from ..app.access import Access, host_names, lan_addresses

    try:
        if host == "localhost" or ipaddress.ip_address(host.strip("[]")).is_loopback:
            return Access()
    except ValueError:  # a host name such as mybox.local
        pass
    if host in WILDCARDS:
        return Access.lan([*lan_addresses(), *host_names()], any_address=True)
    return Access.lan([host.strip("[]")])


def _check_free(host: str, port: int) -> None:
    """A one-line error now, rather than uvicorn's log lines later, when the address is taken. The
    probe binds as uvicorn does, with SO_REUSEADDR: without it a port whose last connection is in
    TIME_WAIT looks taken for a minute after the previous server stopped."""
    try:
        # "" (every address, as uvicorn reads it) is None here, which AI_PASSIVE makes the wildcard
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(infos[0][4])
    except OSError as err:
        # a port taken or reserved wants another port; a name that does not resolve or an address of
        # another machine wants another host
        port_hint = isinstance(err, PermissionError) or err.errno == errno.EADDRINUSE
        hint = ("pick another with --port N (0 = any free port)" if port_hint else
                "give --host an address of this machine (127.0.0.1, the default; 0.0.0.0 for the LAN)")
        raise ValueError(f"cannot listen on {host}:{port} ({err.strerror or err}); {hint}") from None


def _announce(server, args: argparse.Namespace, access) -> None:
    """Print the address, and in LAN mode the link for other devices, once the server listens; open
    the browser."""
    while not server.started and not server.should_exit:
        time.sleep(0.05)
    listening = [sock for listener in server.servers for sock in listener.sockets] if server.started else []
    if not listening:  # stopped (Ctrl-C, a signal) before or just as it started
        return
    port = listening[0].getsockname()[1]
    shared = access.share_url(port)
    if access.token is not None and args.host not in WILDCARDS:
        url = shared  # listening on that one address only: 127.0.0.1 is not served
    else:
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(args.host, args.host).strip("[]")
        url = f"http://{f'[{host}]' if ':' in host else host}:{port}/"
    print(f"chainrule draw: serving on {url}  (Ctrl-C to stop)", flush=True)
    if shared:
        print(f"  phones and other devices on your network: {shared}\n"
              "  (the page shows this link as a QR code; anyone with it can draw and save corrections here)",
              flush=True)
    if not args.no_browser:
        webbrowser.open(url)
