from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from discord import Publisher  # noqa: E402
from servers import Mosquitto, Redis  # noqa: E402


@pytest.fixture
def mosquitto() -> Iterator[Mosquitto]:
    server = Mosquitto()
    yield server
    server.close()


@pytest.fixture
def redis_server() -> Iterator[Redis]:
    server = Redis()
    yield server
    server.close()


@pytest.fixture
def publisher(mosquitto: Mosquitto) -> Iterator[Publisher]:
    p = Publisher(mosquitto.port)
    yield p
    p.close()
