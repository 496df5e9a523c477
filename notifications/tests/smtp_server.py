"""A loopback SMTP server for tests that read email across processes (a real Celery worker sends it).

It speaks enough SMTP for Django's SMTP backend. `stall_next()` makes it hold the next message after its
DATA arrives without answering, as a slow provider would: a message is delivered only once the server
answers 250, so a sender killed while waiting has delivered nothing.
"""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes
from email.message import Message


class _Handler(socketserver.StreamRequestHandler):
    server: LoopbackSMTP

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self) -> None:
        self.reply("220 loopback ESMTP")
        while line := self.rfile.readline():
            command = line.decode(errors="replace").strip().upper()
            if command.startswith(("EHLO", "HELO")):
                self.reply("250 loopback")
            elif command.startswith(("MAIL", "RCPT", "RSET", "NOOP")):
                self.reply("250 OK")
            elif command == "DATA":
                self.reply("354 end with <CRLF>.<CRLF>")
                if not self.receive_data():
                    return
            elif command == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")

    def receive_data(self) -> bool:
        lines = []
        while (line := self.rfile.readline()) not in (b".\r\n", b""):
            lines.append(line[1:] if line.startswith(b"..") else line)
        if self.server.take_stall():
            self.server.stalled.set()
            while self.rfile.readline():  # hold the reply until the sender goes away
                pass
            return False
        self.server.record(message_from_bytes(b"".join(lines)))
        self.reply("250 queued")
        return True


class LoopbackSMTP(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.messages: list[Message] = []
        self.stalled = threading.Event()
        self._stall = False
        self._lock = threading.Lock()

    @property
    def port(self) -> int:
        return self.server_address[1]

    def stall_next(self) -> None:
        with self._lock:
            self._stall = True
            self.stalled.clear()

    def take_stall(self) -> bool:
        with self._lock:
            stall, self._stall = self._stall, False
            return stall

    def record(self, message: Message) -> None:
        with self._lock:
            self.messages.append(message)

    def start(self) -> LoopbackSMTP:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self
