"""Servers a test starts for itself on 127.0.0.1: a Redis it may stop, and an SMTP server that
keeps what it receives (and can be made to refuse connections)."""

from __future__ import annotations

import socket
import socketserver
import subprocess
import threading
import time
from dataclasses import dataclass, field


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class OwnRedis:
    """A redis-server of the test's own (never the shared one on 6379), stoppable."""

    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> OwnRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while not self.answers():
            assert time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    def answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough of RFC 5321 for smtplib: EHLO, MAIL, RCPT, DATA, QUIT."""

    def handle(self) -> None:
        self.wfile.write(b"220 test SMTP\r\n")
        envelope: dict[str, object] = {"rcpt": []}
        while line := self.rfile.readline():
            command = line.decode().strip()
            verb = command[:4].upper()
            if verb in ("EHLO", "HELO"):
                self.wfile.write(b"250 test\r\n")
            elif verb == "MAIL":
                envelope["from"] = command
                self.wfile.write(b"250 OK\r\n")
            elif verb == "RCPT":
                envelope["rcpt"].append(command)
                self.wfile.write(b"250 OK\r\n")
            elif verb == "DATA":
                self.wfile.write(b"354 go on\r\n")
                body = []
                while (data := self.rfile.readline()) not in (b".\r\n", b""):
                    body.append(data.decode())
                envelope["data"] = "".join(body)
                self.server.messages.append(envelope)
                envelope = {"rcpt": []}
                self.wfile.write(b"250 queued\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"502 not here\r\n")


class SMTPServer:
    """Started on ``port`` (a free one by default); ``messages`` holds every email received."""

    def __init__(self, port: int = 0) -> None:
        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", port), SMTPHandler)
        self.server.daemon_threads = True
        self.server.messages = []
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def messages(self) -> list[dict[str, object]]:
        return self.server.messages

    def recipients(self) -> list[str]:
        return [str(m["rcpt"][0]) for m in self.messages]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


#: The EICAR anti-virus test string: every scanner reports it, and it harms nothing.
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


class ClamdHandler(socketserver.StreamRequestHandler):
    """clamd's INSTREAM command: ``zINSTREAM\\0``, chunks each after a 4-byte big-endian length,
    a zero length to end; answers ``stream: OK`` or ``stream: <name> FOUND`` (NUL-ended)."""

    def handle(self) -> None:
        command = b""
        while not command.endswith(b"\0"):
            command += self.rfile.read(1)
        if command != b"zINSTREAM\0":
            self.wfile.write(b"UNKNOWN COMMAND\0")
            return
        received = bytearray()
        while length := int.from_bytes(self.rfile.read(4), "big"):
            received += self.rfile.read(length)
            if len(received) > self.server.max_bytes:  # clamd's StreamMaxLength
                self.wfile.write(b"INSTREAM size limit exceeded. ERROR\0")
                return
        self.server.scanned.append(bytes(received))
        if self.server.silent:
            self.server.release.wait(10)  # a scanner that hangs: never answers
            return
        found = EICAR in received
        self.wfile.write(b"stream: Eicar-Test-Signature FOUND\0" if found else b"stream: OK\0")


class Clamd:
    """A clamd stand-in on the unix socket ``path``; ``silent`` ones read but never answer,
    and a stream longer than ``max_bytes`` is refused as clamd does."""

    def __init__(self, path: str, *, silent: bool = False, max_bytes: int = 2**31) -> None:
        self.server = socketserver.ThreadingUnixStreamServer(path, ClamdHandler)
        self.server.daemon_threads = True
        self.server.scanned = []
        self.server.silent = silent
        self.server.max_bytes = max_bytes
        self.server.release = threading.Event()
        self.path = path
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def scanned(self) -> list[bytes]:
        return self.server.scanned

    def stop(self) -> None:
        self.server.release.set()
        self.server.shutdown()
        self.server.server_close()
