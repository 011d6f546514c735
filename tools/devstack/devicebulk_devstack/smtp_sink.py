"""A local SMTP server that keeps each message it receives as a file (``<dir>/<n>.eml``)."""

from __future__ import annotations

import argparse
import asyncio
import itertools
import signal
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class FileSink:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        start = len(list(directory.glob("*.eml"))) + 1
        self._numbers = itertools.count(start)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        path = self.directory / f"{next(self._numbers):06d}.eml"
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(envelope.original_content or envelope.content)
        tmp.rename(path)
        return "250 Message accepted for delivery"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1025)
    parser.add_argument("--dir", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    controller = Controller(FileSink(args.dir), hostname=args.host, port=args.port)
    controller.start()

    async def wait() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    try:
        asyncio.run(wait())
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
