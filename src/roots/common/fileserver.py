"""A small static HTTP file server with Range support and fault injection, for tests and benchmarks.

`FileServer(root)` serves a folder on 127.0.0.1 (threaded, HTTP/1.1 keep-alive, HEAD, `Range: bytes=A-B`
answered with 206) the way object stores and data.commoncrawl.org do, so remote reading is exercised over
real sockets without a network. `fail_every=N` answers every Nth request with a 503 or drops the
connection part-way through the body, to check that readers retry; paths in `broken` always answer 503.
"""

from __future__ import annotations

import http.server
import os
import re
import threading
from pathlib import Path

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class _Handler(http.server.SimpleHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args) -> None:  # quiet
        pass

    def _fault(self) -> str | None:
        srv = self.server
        if self.path.split("?", 1)[0].lstrip("/") in srv.broken:
            return "503"
        with srv.lock:
            srv.requests += 1
            n = srv.requests
        if srv.fail_every and n % srv.fail_every == 0:
            with srv.lock:
                srv.faults += 1
            return "drop" if (n // srv.fail_every) % 2 else "503"
        return None

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        path = Path(self.translate_path(self.path))
        if path.is_dir():  # directory listings (fsspec's HTTP glob parses the links)
            if body:
                super().do_GET()
            else:
                super().do_HEAD()
            return
        fault = self._fault() if body else None
        if fault == "503":
            self.send_error(503, "injected failure")
            return
        if not path.is_file():
            self.send_error(404, "not found")
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        match = _RANGE.match(self.headers.get("Range", ""))
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:  # suffix range: the last N bytes
                start = max(0, size - int(match.group(2)))
            if start >= size:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        else:
            self.send_response(200)
        length = end - start + 1
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(length))
        self.end_headers()
        if not body:
            return
        with open(path, "rb") as f:
            f.seek(start)
            if fault == "drop":  # half the body, then the connection goes away
                self.wfile.write(f.read(length // 2))
                self.close_connection = True
                return
            remaining = length
            while remaining > 0:
                chunk = f.read(min(remaining, 1 << 20))
                if not chunk:
                    break
                self.wfile.write(chunk)
                remaining -= len(chunk)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    fail_every = 0
    requests = 0
    faults = 0
    broken: frozenset[str] = frozenset()
    lock: threading.Lock


class FileServer:
    """Serve `root` over HTTP on 127.0.0.1 (a free port) in a background thread; use as a context manager."""

    def __init__(self, root: str | os.PathLike, fail_every: int = 0, broken: tuple[str, ...] = ()):
        root = str(root)

        class Handler(_Handler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=root, **kwargs)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._server.lock = threading.Lock()
        self._server.fail_every = fail_every
        self._server.broken = frozenset(broken)  # paths relative to root that always fail
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def faults(self) -> int:
        """How many requests were failed on purpose."""
        return self._server.faults

    def set_fail_every(self, n: int) -> None:
        self._server.fail_every = n

    def start(self) -> FileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
