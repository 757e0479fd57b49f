"""Private redis-server and mosquitto on free loopback ports, as the Rust testkit does."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Optional

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str, env: str) -> str:
    if os.environ.get(env):
        return os.environ[env]
    found = shutil.which(name)
    if found:
        return found
    for d in ("/usr/sbin", "/usr/local/sbin", "/usr/bin"):
        p = Path(d) / name
        if p.is_file():
            return str(p)
    raise RuntimeError(f"`{name}` not found on PATH; run scripts/test, which installs it, or set {env}")


class Server:
    """A server process on a fixed port with its own directory; restartable."""

    def __init__(self, name: str, argv: list[str], port: int, workdir: Path) -> None:
        self.name = name
        self.argv = argv
        self.port = port
        self.dir = workdir
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.start_again()

    def start_again(self) -> None:
        # The server writes to its own copy of the descriptor; this one closes at once.
        with open(self.dir / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.02)
        raise RuntimeError(f"{self.name} did not accept connections on port {self.port}; see {self.dir}/server.log")

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        self._signal(signal.SIGTERM)

    def kill(self) -> None:
        self._signal(signal.SIGKILL)


class Mosquitto(Server):
    """mosquitto with the shipped config/mosquitto.conf."""

    def __init__(self, workdir: Path) -> None:
        port = free_port()
        candidates = [REPO / "k8s/overlays/self-contained/mosquitto/mosquitto.conf", REPO / "config/mosquitto.conf"]
        shipped = next(p for p in candidates if p.exists()).read_text()
        conf = workdir / "mosquitto.conf"
        conf.write_text(f"{shipped}\nlistener {port} 127.0.0.1\npersistence_location {workdir}/\nuser root\n")
        binary = find_binary("mosquitto", "DDISCORD_MOSQUITTO")
        super().__init__("mosquitto", [binary, "-c", str(conf)], port, workdir)

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"


class Redis(Server):
    """redis-server without persistence."""

    def __init__(self, workdir: Path) -> None:
        port = free_port()
        binary = find_binary("redis-server", "DDISCORD_REDIS_SERVER")
        argv = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(workdir)]
        super().__init__("redis-server", argv, port, workdir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"
