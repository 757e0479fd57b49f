"""A publisher faster than any consumer under test, for bench_subscribe.py: one MQTT 3.1.1
connection over a plain socket that writes pre-encoded QoS 0 PUBLISH packets as fast as the
socket takes them (`mosquitto_pub -l` publishes a few ten thousand messages per second, slower
than the consumers measured).

    python flood.py <port> <topic> <count> <envelope file>

Prints `ready` once the broker accepted the connection, publishes `count` copies of the envelope
on `topic` when a line arrives on standard input, prints `done` after the last one was written,
and exits.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from pathlib import Path

PER_CHUNK = 256


def remaining_length(n: int) -> bytes:
    """MQTT's variable-length "remaining length" (1-4 bytes)."""
    out = bytearray()
    while True:
        byte = n % 128
        n //= 128
        if n > 0:
            byte |= 0x80
        out.append(byte)
        if n == 0:
            return bytes(out)


def packet(kind: int, variable: bytes) -> bytes:
    return bytes([kind]) + remaining_length(len(variable)) + variable


def text(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def main() -> None:
    port, topic, count_text, file = sys.argv[1:5]
    count = int(count_text)
    body = Path(file).read_bytes()
    # CONNECT: protocol "MQTT" level 4, clean session, keep-alive 0 (none), a unique client id.
    connect = packet(0x10, text("MQTT") + bytes([4, 0x02, 0, 0]) + text(f"bench-flood-{os.getpid()}"))
    publish = packet(0x30, text(topic) + body)
    chunk = publish * PER_CHUNK
    sock = socket.create_connection(("127.0.0.1", int(port)))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(connect)
    ack = sock.recv(4)
    if len(ack) < 4 or ack[0] != 0x20 or ack[3] != 0:
        sys.exit(f"flood: the broker refused the connection ({ack.hex()})")
    print("ready", flush=True)
    sys.stdin.readline()
    left = count
    while left > 0:
        n = min(PER_CHUNK, left)
        left -= n
        sock.sendall(chunk if n == PER_CHUNK else publish * n)
    # DISCONNECT: the broker forwards everything before it, then closes.
    sock.sendall(bytes([0xE0, 0]))
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)
    sock.close()
    print("done", flush=True)


if __name__ == "__main__":
    main()
