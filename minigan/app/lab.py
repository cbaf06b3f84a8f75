"""`minigan lab`: watch a GAN learn in the browser, trained live by minigan itself.

``minigan lab`` starts a small web server on 127.0.0.1 and opens its page. The training runs in
this Python process, in the background thread of a :class:`~minigan.app.lab_session.LabSession`
(the library's own trainer, losses and optimizers); the page only draws and sends controls.

The server is the standard library's :class:`http.server.ThreadingHTTPServer`, nothing else:

- ``GET /``, ``/lab.js``, ``/lab.css``: the page, from ``minigan/app/lab_static/`` (no CDN: it
  works offline);
- ``GET /events``: Server-Sent Events, one ``frame`` event per frame of the session (a JSON object,
  see :mod:`minigan.app.lab_session`); the browser's ``EventSource`` reconnects by itself;
- ``GET /api/state``: settings, step counters, the latest statistics; ``GET /api/presets``;
- ``POST /api/control`` ``{"action": "play" | "pause" | "step" | "step_d" | "step_g" | "reset", "seed": N}``,
  ``POST /api/settings`` ``{"loss": "wgan-gp", "d_lr": 1e-4, ...}``, ``POST /api/points``
  ``{"points": [[x, y], ...]}``: JSON in, the new state out.

Only this machine's pages may drive it. Every request must name the server itself in its ``Host``
header (``127.0.0.1:PORT`` or ``localhost:PORT``), which defeats DNS rebinding; every POST and the
event stream must come with no ``Origin`` or this server's own, so another web site open in the
browser can neither send controls nor read frames; POSTs must be ``application/json`` of at most
:data:`MAX_BODY` bytes. A bad request gets a 4xx answer ``{"error": "..."}`` and the training
thread never sees it.

Read next: ``minigan/app/lab_session.py`` (the training and the frames), then
``minigan/app/lab_static/lab.js`` (the page).
"""

from __future__ import annotations

import argparse
import errno
import http.server
import json
import sys
import threading
import webbrowser
from dataclasses import dataclass
from importlib import resources
from typing import Any

from minigan.app.common import UsageError
from minigan.app.lab_session import PRESETS, SETTINGS, LabRequestError, LabSession, LabSettings, validate_points
from minigan.app.lab_session import validate_settings as _validate_settings

__all__ = ["DESCRIPTION", "HELP", "LabOptions", "LabServer", "add_lab_command", "run_lab", "start_lab"]

HELP = "watch a GAN learn in the browser: live 2-D training you can steer (minigan lab)"
DESCRIPTION = (
    "Start a local web page where a small GAN trains live on toy data (ring of 8, grid of 25, two moons, "
    "the 1-D Gaussian and mixtures, points you draw): real and fake samples, D's output as a heat map, "
    "the gradient of G's loss as an arrow on every fake point, losses; play, pause, one D or G step, "
    "and every setting (loss, learning rates, k, widths, depths, penalties) while it runs. Ctrl-C stops it."
)

#: The largest request body accepted (a drawing of MAX_POINTS points fits comfortably).
MAX_BODY = 256 * 1024
#: The most event streams (open pages) served at once.
MAX_STREAMS = 8
#: The page's files and their content types.
STATIC = {"/": "index.html", "/index.html": "index.html", "/lab.js": "lab.js", "/lab.css": "lab.css"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css"}
ACTIONS = ("play", "pause", "step", "step_d", "step_g", "reset")


@dataclass
class LabOptions:
    """What `minigan lab` takes (the flags of the same names)."""

    port: int = 8021
    host: str = "127.0.0.1"
    no_browser: bool = False
    preset: str | None = None
    seed: int | None = None
    backend: str | None = None


def add_lab_command(subparsers: argparse._SubParsersAction) -> None:
    """Declare `minigan lab` and its flags (called by :mod:`minigan.cli`)."""
    p = subparsers.add_parser("lab", help=HELP, description=DESCRIPTION)
    p.add_argument("--port", type=int, default=8021, help="port to serve on (default 8021; 0: any free port)")
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only; the "
        "page still accepts only requests addressed to 127.0.0.1 or localhost)"
    )  # fmt: skip
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; print the address only")
    p.add_argument(
        "--preset", choices=tuple(PRESETS), help="start with the settings of a chapter's figure: "
        + ", ".join(PRESETS)
    )  # fmt: skip
    p.add_argument("--seed", type=int, help="seed of the weights and the noise (default 0)")
    p.add_argument("--backend", choices=("numpy", "cupy", "strict"), help="array backend (default: $MINIGAN_BACKEND "
                   "or numpy)")  # fmt: skip
    p.set_defaults(handler=run_lab, options_type=LabOptions)


def static_file(name: str) -> bytes:
    """One of the page's files, read from the installed package."""
    return resources.files("minigan.app").joinpath("lab_static", name).read_bytes()


# ----------------------------------------------------------------------------
# The request handler
# ----------------------------------------------------------------------------
class _Handler(http.server.BaseHTTPRequestHandler):
    server: _HTTPServer
    protocol_version = "HTTP/1.1"  # keep-alive: the page's many small POSTs reuse one connection

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # one line per request would bury the address the learner needs

    # -- checks -------------------------------------------------------------------
    def _allowed_host(self) -> bool:
        return self.headers.get("Host", "") in self.server.allowed_hosts

    def _allowed_origin(self) -> bool:
        origin = self.headers.get("Origin")
        return origin is None or origin in self.server.allowed_origins

    def _send_json(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _refuse(self, status: int, message: str) -> None:
        # The body of a refused request may be unread: close the connection rather than parse it as the next one.
        self.close_connection = True
        self._send_json(status, {"error": message})

    def _checked(self, needs_origin: bool) -> bool:
        if not self._allowed_host():
            self._refuse(403, f"bad Host header {self.headers.get('Host')!r}: use {self.server.url}")
            return False
        if needs_origin and not self._allowed_origin():
            self._refuse(403, f"requests from {self.headers.get('Origin')!r} are not allowed")
            return False
        return True

    # -- GET ----------------------------------------------------------------------
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if not self._checked(needs_origin=path == "/events"):
            return
        if path in STATIC:
            name = STATIC[path]
            data = static_file(name)
            self.send_response(200)
            self.send_header("Content-Type", TYPES[name[name.rindex(".") :]])
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(data)
        elif path == "/events":
            self._stream_events()
        elif path == "/api/state":
            self._send_json(200, self.server.session.state())
        elif path == "/api/presets":
            self._send_json(200, {"presets": PRESETS, "settings": {k: list(v) for k, v in SETTINGS.items()}})
        else:
            self._refuse(404, f"no such page: {path}")

    def _stream_events(self) -> None:
        """Server-Sent Events: each new frame as ``event: frame``; a comment every 15 s keeps the line open.

        At most :data:`MAX_STREAMS` at once: each holds a thread, and a page reloaded in a loop must
        not pile them up.
        """
        with self.server.streams_lock:
            if self.server.streams >= MAX_STREAMS:
                self._refuse(503, f"too many pages open ({MAX_STREAMS}); close one and reload")
                return
            self.server.streams += 1
        try:
            self._send_frames()
        finally:
            with self.server.streams_lock:
                self.server.streams -= 1

    def _send_frames(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")  # the stream ends the connection
        self.end_headers()
        self.close_connection = True
        session, seen = self.server.session, 0
        try:
            frame = session.latest_frame()
            while not session.stopped and not self.server.closing.is_set():
                if frame is not None and frame["seq"] > seen:
                    seen = frame["seq"]
                    self.wfile.write(b"event: frame\ndata: " + self.server.encoded(frame) + b"\n\n")
                    self.wfile.flush()
                frame = session.wait_frame(seen, timeout=15.0)
                if frame is None:
                    self.wfile.write(b": keep-alive\n\n")
                    self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the page was closed or reloaded

    # -- POST ---------------------------------------------------------------------
    def do_POST(self) -> None:  # noqa: N802
        if not self._checked(needs_origin=True):
            return
        try:
            body = self._read_json()
            state = self._post(self.path, body)
        except LabRequestError as e:
            self._refuse(400, str(e))
            return
        except _HTTPError as e:
            self._refuse(e.status, str(e))
            return
        except TimeoutError as e:
            self._refuse(503, str(e))
            return
        self._send_json(200, state)

    def _read_json(self) -> Any:
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            raise _HTTPError(415, "send JSON with Content-Type: application/json")
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise _HTTPError(411, "a Content-Length header is required") from None
        if not 0 <= length <= MAX_BODY:
            self.close_connection = True  # the unread body would be taken for the next request
            raise _HTTPError(413, f"request body too large ({length} bytes; at most {MAX_BODY})")
        raw = self.rfile.read(length)
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise LabRequestError(f"the body is not valid JSON: {e}") from None

    def _post(self, path: str, body: Any) -> dict[str, Any]:
        session = self.server.session
        if not isinstance(body, dict):
            raise LabRequestError("the body must be a JSON object")
        if path == "/api/control":
            _only_keys(body, {"action", "seed"})
            action = body.get("action")
            if action not in ACTIONS:
                raise LabRequestError(f"action must be one of {', '.join(ACTIONS)}, got {action!r}")
            seed = None
            if "seed" in body:
                if action != "reset":
                    raise LabRequestError("seed goes with the reset action only")
                seed = _validate_settings({"seed": body["seed"]})["seed"]
            return session.submit(action, seed)
        if path == "/api/settings":
            return session.submit("settings", _validate_settings(body))
        if path == "/api/points":
            _only_keys(body, {"points"})
            return session.submit("points", validate_points(body.get("points")))
        raise _HTTPError(404, f"no such endpoint: {path}")


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _only_keys(body: dict[str, Any], known: set[str]) -> None:
    unknown = sorted(set(body) - known)
    if unknown:
        raise LabRequestError(f"unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")


class _HTTPServer(http.server.ThreadingHTTPServer):
    daemon_threads = True  # an open event stream must not keep the process alive after Ctrl-C
    # SO_REUSEADDR lets a restarted lab take its port back at once (old connections linger for a
    # minute); on Linux and macOS it still refuses a port another server listens on. On Windows it
    # would share that port, so there it stays off.
    allow_reuse_address = sys.platform != "win32"

    session: LabSession  # set by start_lab once the port is bound

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.closing = threading.Event()
        self.streams, self.streams_lock = 0, threading.Lock()
        port = self.server_address[1]
        self.url = f"http://127.0.0.1:{port}/"
        self.allowed_hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}
        if address[0] not in ("", "0.0.0.0", "::", "127.0.0.1", "localhost"):
            self.allowed_hosts.add(f"{address[0]}:{port}")
        self.allowed_origins = {f"http://{h}" for h in self.allowed_hosts}
        self._encoded: tuple[int, bytes] = (0, b"")
        self._encode_lock = threading.Lock()

    def encoded(self, frame: dict[str, Any]) -> bytes:
        """A frame as one line of JSON, encoded once however many pages are open."""
        with self._encode_lock:
            if self._encoded[0] != frame["seq"]:
                self._encoded = (frame["seq"], json.dumps(frame, separators=(",", ":")).encode())
            return self._encoded[1]


# ----------------------------------------------------------------------------
# Starting and stopping
# ----------------------------------------------------------------------------
class LabServer:
    """A running lab: the training session and the web server, both in background threads.

    ``url`` is the page's address; :meth:`stop` ends both (the training thread first finishes its step).
    """

    def __init__(self, httpd: _HTTPServer, session: LabSession) -> None:
        self.httpd, self.session = httpd, session
        self.port: int = httpd.server_address[1]
        self.url: str = httpd.url
        self._thread = threading.Thread(target=httpd.serve_forever, name="minigan-lab-http", daemon=True)

    def serve_in_background(self) -> LabServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.closing.set()
        self.session.stop()
        if self._thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()


def settings_for(preset: str | None, seed: int | None) -> LabSettings:
    """The starting settings: the defaults, a preset's over them, then ``seed``."""
    values = dict(PRESETS[preset]) if preset else {}
    if seed is not None:
        values["seed"] = seed
    return LabSettings(**_validate_settings(values))


def start_lab(options: LabOptions) -> LabServer:
    """Bind the server and start the training thread; raises :class:`UsageError` when the port is taken."""
    if options.preset is not None and options.preset not in PRESETS:
        raise UsageError(f"unknown preset {options.preset!r}; choose one of {', '.join(PRESETS)}")
    if not 0 <= options.port <= 65535:
        raise UsageError(f"--port must be in 0..65535, got {options.port}")
    try:
        settings = settings_for(options.preset, options.seed)
    except LabRequestError as e:
        raise UsageError(str(e)) from None
    try:  # the port first: a taken one is reported before any network is built
        httpd = _HTTPServer((options.host, options.port))
    except OSError as e:
        if e.errno == errno.EADDRINUSE:
            raise UsageError(
                f"port {options.port} on {options.host} is already in use (another minigan lab?): "
                "choose another with --port, or --port 0 for any free one"
            ) from None
        raise UsageError(f"cannot listen on {options.host}:{options.port}: {e.strerror or e}") from None
    httpd.session = session = LabSession(settings)
    session.start()
    return LabServer(httpd, session)


def run_lab(options: LabOptions) -> int:
    """`minigan lab`: serve until Ctrl-C, then stop the training thread and the server cleanly."""
    if options.backend:
        from minigan import backend as B

        B.set_backend(options.backend)
    lab = start_lab(options)
    print(f"minigan lab: {lab.url}  (Ctrl-C to stop)", flush=True)
    if options.host not in ("127.0.0.1", "localhost"):
        print(f"minigan lab: listening on {options.host}; the page answers only to 127.0.0.1 and localhost")
    if not options.no_browser:
        threading.Timer(0.3, webbrowser.open, args=(lab.url,)).start()
    try:
        lab.httpd.serve_forever(poll_interval=0.25)
    except KeyboardInterrupt:
        print("\nminigan lab: stopping", flush=True)
    finally:
        lab.httpd.closing.set()
        lab.session.stop()
        lab.httpd.server_close()
    return 0
