"""A local token issuer's public half: serves a JWKS file over HTTP (``GET /jwks.json``).

`make run` starts it on a port of its own and points the intake's ``AUTH_JWKS_URL`` at it;
``devicebulk-admin dev-token`` signs with the private key beside the file (``var/dev-jwt/``).
The file is read on every request, so replacing it rotates the keys. Tests run it in a thread
(:class:`JwksServer`) and count what the intake fetched (``hits``).
"""

from __future__ import annotations

import argparse
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any

PATH = "/jwks.json"


class JwksServer:
    def __init__(self, jwks_file: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.jwks_file = jwks_file
        self.hits = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != PATH:
                    self.send_error(404)
                    return
                server.hits += 1
                try:
                    body = server.jwks_file.read_bytes()
                except OSError:
                    self.send_error(503, "no JWKS yet")
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "max-age=300")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._http = ThreadingHTTPServer((host, port), Handler)
        self._http.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._http.server_address[:2]
        return f"http://{host!s}:{port}{PATH}"

    def start(self) -> JwksServer:
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._http.shutdown()
        self._http.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> JwksServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8085)
    parser.add_argument("--file", type=Path, default=Path("var/dev-jwt/jwks.json"))
    args = parser.parse_args()
    server = JwksServer(args.file, host=args.host, port=args.port)

    def _stop(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=server._http.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    server._http.serve_forever()
    server._http.server_close()


if __name__ == "__main__":
    main()
