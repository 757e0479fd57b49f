"""Private redis-server and mosquitto on free loopback ports, started by `ddiscord dev services`:
the implementation the Rust tests and `ddiscord up` use (crate `ddiscord-local-servers`), so
every suite starts its servers the same way (own port, own data directory, gone when the test
process ends however it ends)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path
from typing import IO, Any, Optional

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def find_binary(name: str, env: str) -> str:
    """A client tool (`mosquitto_pub`, `redis-cli`): `$env` when set, else on PATH or in the sbin
    directories."""
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


def ddiscord_binary() -> Path:
    """`DDISCORD_BINARY` (set by scripts/test-python.sh, which builds it), else built here."""
    # Imported here: projection imports this module.
    from projection import binary

    return binary()


class Server:
    """One server, run by its own `ddiscord dev services` process, which stops it when its
    standard input closes (`close()`, or this process ending)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._proc = subprocess.Popen(
            [str(ddiscord_binary()), "dev", "services", f"--{name}"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        started = self._read()
        if started is None:
            self._proc.wait()
            err = self._stderr().read().decode(errors="replace").strip()
            raise RuntimeError(f"starting a private {name} failed: {err}")
        self.port: int = started[name]["port"]
        self.url: str = started[name]["url"]
        self.pid: Optional[int] = started[name]["pid"]

    def _stderr(self) -> IO[bytes]:
        assert self._proc.stderr is not None
        return self._proc.stderr

    def _read(self) -> Optional[Any]:
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        return json.loads(line) if line else None

    def _command(self, action: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(f"{action} {self.name}\n".encode())
        self._proc.stdin.flush()
        answer = self._read()
        if answer is None or not answer["ok"]:
            why = answer["error"] if answer else "ddiscord dev services exited"
            raise RuntimeError(f"{action} {self.name}: {why}")
        self.pid = answer["pid"]

    def stop(self) -> None:
        """Stops the server gracefully (SIGTERM)."""
        self._command("stop")

    def kill(self) -> None:
        """Kills the server (SIGKILL)."""
        self._command("kill")

    def start_again(self) -> None:
        """Starts it again on the same port with the same data directory."""
        self._command("start")

    def close(self) -> None:
        """Stops the server for good and removes its directory."""
        if self._proc.stdin is not None and not self._proc.stdin.closed:
            self._proc.stdin.close()
        try:
            self._proc.wait(15)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


class Mosquitto(Server):
    """mosquitto with the shipped k8s/overlays/self-contained/mosquitto/mosquitto.conf."""

    def __init__(self) -> None:
        super().__init__("mosquitto")


class Redis(Server):
    """redis-server without persistence."""

    def __init__(self) -> None:
        super().__init__("redis")
