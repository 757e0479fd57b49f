"""The `ddiscord` binary for the tests (built by scripts/test-python.sh or on first use):
`ddiscord project` writes envelopes into Redis with the state worker's projection, and
`ddiscord state-worker` runs the state worker itself."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from discord import FIXTURES, envelope
from servers import REPO

TARGET = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache" / "ddiscord" / "target"))
BINARY = TARGET / "debug" / "ddiscord"


_built = False


def binary() -> Path:
    """`DDISCORD_BINARY` when set (scripts/test-python.sh sets it), else `ddiscord` built once
    per test session (incremental: a no-op when up to date)."""
    global _built
    if os.environ.get("DDISCORD_BINARY"):
        path = Path(os.environ["DDISCORD_BINARY"])
        if not path.is_file():
            raise RuntimeError(f"DDISCORD_BINARY={path} does not exist; build it (cargo build -p ddiscord-cli) or unset it")
        return path
    if not _built or not BINARY.exists():
        subprocess.run(
            ["cargo", "build", "-q", "-p", "ddiscord-cli"],
            cwd=REPO,
            check=True,
            env={**os.environ, "CARGO_TARGET_DIR": str(TARGET)},
        )
        _built = True
    return BINARY


def session_v10() -> list[bytes]:
    """A consistent session from events_v10.jsonl: READY, the GUILD_CREATEs, then the other
    dispatches, numbered 1..n (the fixture README says how)."""
    lines = [json.loads(l) for l in (FIXTURES / "events_v10.jsonl").read_text().splitlines() if l.strip()]
    dispatches = [f for f in lines if f.get("op") == 0]
    order = {"READY": 0, "GUILD_CREATE": 1}
    dispatches.sort(key=lambda f: order.get(f["t"], 2))
    out = []
    for seq, frame in enumerate(dispatches, start=1):
        frame["s"] = seq
        out.append(envelope(json.dumps(frame, separators=(",", ":")).encode(), session="fixture-session"))
    return out


def project(redis_url: str, envelopes: list[bytes], prefix: str = "dd:") -> list[str]:
    """Applies `envelopes` in order with presences and 50 messages per channel cached;
    returns one outcome per envelope (`applied`, `duplicate`, `skipped`, `rejected: …`)."""
    result = subprocess.run(
        [str(binary()), "project"],
        input=b"\n".join(envelopes) + b"\n",
        capture_output=True,
        env={
            **os.environ,
            "DDISCORD_REDIS_URL": redis_url,
            "DDISCORD_KEY_PREFIX": prefix,
            "DDISCORD_CACHE_PRESENCES": "true",
            "DDISCORD_MESSAGE_CACHE": "50",
        },
    )
    assert result.returncode == 0, result.stderr.decode()
    return result.stdout.decode().splitlines()
