"""``chainrule draw``: the live drawing program. Starts a local web server (Starlette + uvicorn) and
opens the page in the browser: draw a digit, watch the prediction, the 28x28 input and the saliency
change with every stroke; correct wrong answers and adapt a copy of the model to them."""

from __future__ import annotations

import argparse
import threading
import webbrowser
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("draw", help="draw digits in the browser and watch the network recognise them live",
                       description="Start the drawing program on http://HOST:PORT and open it in the browser. "
                       "Example: chainrule draw --model mnist800.npz")
    p.add_argument("--model", type=Path, default=None, help="model file (default: the bundled digit model)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
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
    try:
        import uvicorn

        from ..app import create_app
    except ImportError as err:
        raise ValueError(f"the drawing program needs the app extra: pip install 'chainrule[app]' ({err})") from None
    try:
        app = create_app(args.model, args.data_dir, adapt_steps=args.adapt_steps)
    except FileNotFoundError as err:
        if args.model is not None:
            raise
        raise FileNotFoundError(f"{err}: the bundled model is missing; train one with "
                                "`chainrule train --out model.npz` and run `chainrule draw --model model.npz`") from None
    _check_free(args.host, args.port)
    config = uvicorn.Config(app, host=args.host, port=args.port, log_level="warning", ws_max_size=2_000_000)
    server = uvicorn.Server(config)
    threading.Thread(target=_announce, args=(server, args), daemon=True).start()
    server.run()
    return 0 if server.started else 2


def _check_free(host: str, port: int) -> None:
    """A one-line error now, rather than uvicorn's log lines later, when the address is taken."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        with socket.socket(infos[0][0], socket.SOCK_STREAM) as probe:
            probe.bind(infos[0][4])
    except OSError as err:
        raise ValueError(f"cannot listen on {host}:{port} ({err.strerror or err}); "
                         "pick another with --port N (0 = any free port)") from None


def _announce(server, args: argparse.Namespace) -> None:
    """Print the address (and open the browser) once the server listens."""
    import time

    while not server.started and not server.should_exit:
        time.sleep(0.05)
    if not server.started:
        return
    port = server.servers[0].sockets[0].getsockname()[1]
    host = "127.0.0.1" if args.host in ("0.0.0.0", "") else args.host
    url = f"http://{host}:{port}/"
    print(f"chainrule draw: serving on {url}  (Ctrl-C to stop)", flush=True)
    if not args.no_browser:
        webbrowser.open(url)
