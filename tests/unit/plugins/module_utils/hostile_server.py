# Copyright: atlasops.backup contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A small scriptable HTTP server that misbehaves on purpose, for tests of the Atlas client.

Plain standard library (the TLS certificate needs the `cryptography` package or the `openssl`
command), one thread per connection, on 127.0.0.1 and a random port. Each test says how it
answers: a handler gets every request as a `Received` and returns a `Reply` (or a list of them
is played in order). A Reply can redirect, drip its bytes slowly, claim a length it never sends,
close the connection half-way, or stay silent; `answers` has ready-made hostile answers.

    with HostileServer() as server:
        server.script([Reply(307, headers={"Location": other.url + "/x"})])
        ...
        server.received  # every request, in order

No pytest inside: functional tests and tools may use it as well.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import socketserver
import ssl
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

__all__ = ["HostileServer", "Reply", "Received", "answers", "tls_available", "self_signed_certificate"]


@dataclass
class Received:
    """One request as the server read it."""

    method: str
    path: str
    query: dict
    headers: dict  # header names lower-cased
    body: bytes
    connection: int  # number of the TCP connection it came on (1, 2, ...)
    at: float  # time.monotonic() when it was read


@dataclass
class Reply:
    """How to answer one request.

    body: bytes, str, or any other value (sent as JSON); an iterable of bytes chunks is streamed
      (for answers too large to hold). delay: seconds of silence before anything is sent.
    drip: seconds between single bytes of the whole answer (status line and headers included);
      drip_for bounds how long the drip goes on before the rest is sent at once.
    content_length: the Content-Length to claim (default: the true length; None with chunked).
    chunked: send the body with chunked transfer encoding.
    truncate_at: close the connection after this many bytes of the body.
    close_before_answer: close the connection without sending anything (after delay).
    """

    status: int = 200
    body: object = b""
    headers: dict = field(default_factory=dict)
    delay: float = 0.0
    drip: float | None = None
    drip_for: float = 30.0
    content_length: int | None = -1
    chunked: bool = False
    truncate_at: int | None = None
    close_before_answer: bool = False


class answers:  # pylint: disable=invalid-name
    """Ready-made replies."""

    @staticmethod
    def json(value, status: int = 200, **options) -> Reply:
        return Reply(status, json.dumps(value).encode(), dict({"Content-Type": "application/json"}, **options.pop("headers", {})),
                     **options)

    @staticmethod
    def redirect(location: str, status: int = 307) -> Reply:
        return Reply(status, b"", {"Location": location})

    @staticmethod
    def empty(status: int = 200) -> Reply:
        return Reply(status, b"", {"Content-Type": "application/json"})

    @staticmethod
    def raw(text, status: int = 200) -> Reply:
        return Reply(status, text.encode() if isinstance(text, str) else text, {"Content-Type": "application/json"})

    @staticmethod
    def deeply_nested(depth: int = 100000) -> Reply:
        return answers.raw("[" * depth + "]" * depth)

    @staticmethod
    def huge(megabytes: int, chunked: bool = True) -> Reply:
        """A JSON string of that many MiB, streamed in 1 MiB chunks (never held in memory)."""
        def chunks():
            yield b'{"results": [], "padding": "'
            for dummy in range(megabytes):
                yield b"x" * (1024 * 1024)
            yield b'"}'
        return Reply(200, chunks(), {"Content-Type": "application/json"}, chunked=chunked, content_length=None)

    @staticmethod
    def claims(length: int, sent: bytes = b'{"results": [') -> Reply:
        """An answer claiming `length` bytes that sends only a few and then closes."""
        return Reply(200, sent, {"Content-Type": "application/json"}, content_length=length)

    @staticmethod
    def rate_limited(retry_after: str, status: int = 429) -> Reply:
        return answers.json({"error": status, "errorCode": "RATE_LIMITED", "detail": "slow down"}, status,
                            headers={"Retry-After": retry_after})

    @staticmethod
    def digest_challenge(realm: str = "MMS Public API", nonce: str = "hostile-nonce", stale: bool = False) -> Reply:
        header = (f'Digest realm="{realm}", domain="", nonce="{nonce}", opaque="opaque", algorithm=MD5, qop="auth", '
                  f'stale={"true" if stale else "false"}')
        return answers.json({"error": 401, "errorCode": "UNAUTHORIZED", "detail": "digest needed"}, 401,
                            headers={"WWW-Authenticate": header})

    @staticmethod
    def token(value: str = "hostile-token", expires_in=3600) -> Reply:
        return answers.json({"access_token": value, "token_type": "Bearer", "expires_in": expires_in})


class HostileServer:
    """The server; a context manager. host may be another loopback address (127.0.0.2) for "another host"."""

    def __init__(self, host: str = "127.0.0.1", tls: bool = False):
        self.host = host
        self.tls = tls
        self.received: list = []
        self.connections = 0
        self.handshakes_failed = 0
        self._handler = None
        self._script: list = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = None
        self._thread = None
        self._certificate_dir = None
        self._tls_context = None

    # --- life cycle ---

    def start(self) -> "HostileServer":
        if self.tls:
            self._certificate_dir = tempfile.mkdtemp(prefix="hostile-tls-")
            certificate, key = self_signed_certificate(self._certificate_dir, self.host)
            self._tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls_context.load_cert_chain(certificate, key)
            self.certificate = certificate
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self):
                owner._serve_connection(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True
            block_on_close = False

        self._server = Server((self.host, 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._certificate_dir:
            shutil.rmtree(self._certificate_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
        return False

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    # --- behaviour ---

    def script(self, replies=None, handler=None) -> "HostileServer":
        """Answer with these replies in order (then 599), or with handler(Received) -> Reply."""
        with self._lock:
            self._script = list(replies or [])
            self._handler = handler
            self.received = []
        return self

    def requests_to(self, path_part: str) -> list:
        return [received for received in self.received if path_part in received.path]

    def _reply_for(self, received: Received) -> Reply:
        with self._lock:
            self.received.append(received)
            if self._handler is not None:
                handler = self._handler
            elif self._script:
                return self._script.pop(0)
            else:
                return answers.json({"error": 599, "detail": "the hostile server's script is empty"}, 599)
        reply = handler(received)
        return reply if isinstance(reply, Reply) else answers.json(reply)

    # --- the wire ---

    def _serve_connection(self, sock: socket.socket) -> None:
        with self._lock:
            self.connections += 1
            number = self.connections
        if self._tls_context is not None:
            try:
                sock = self._tls_context.wrap_socket(sock, server_side=True)
            except (ssl.SSLError, OSError):
                with self._lock:
                    self.handshakes_failed += 1
                return
        reader = sock.makefile("rb")
        try:
            while not self._stopping.is_set():
                received = self._read_request(reader, number)
                if received is None:
                    return
                reply = self._reply_for(received)
                if not self._send_reply(sock, reply):
                    return
        except (OSError, ValueError):
            return
        finally:
            try:
                reader.close()
                sock.close()
            except OSError:
                pass

    @staticmethod
    def _read_request(reader, number: int) -> Received | None:
        line = reader.readline(65537)
        if not line:
            return None
        method, target, dummy = line.decode("latin-1").split(" ", 2)
        headers = {}
        while True:
            header = reader.readline(65537)
            if header in (b"\r\n", b"\n", b""):
                break
            name, dummy, value = header.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if headers.get("content-length", "").isdigit():
            body = reader.read(int(headers["content-length"]))
        parts = urlsplit(target)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        return Received(method, parts.path, query, headers, body, number, time.monotonic())

    def _send_reply(self, sock, reply: Reply) -> bool:
        """Send one reply; whether the connection may serve another request."""
        if reply.delay and self._stopping.wait(reply.delay):
            return False
        if reply.close_before_answer:
            return False
        body = reply.body
        streamed = not isinstance(body, (bytes, str)) and hasattr(body, "__iter__") and not isinstance(body, (dict, list))
        if not streamed:
            if isinstance(body, str):
                body = body.encode()
            elif not isinstance(body, bytes):
                body = json.dumps(body).encode()
        headers = dict(reply.headers)
        if reply.chunked:
            headers["Transfer-Encoding"] = "chunked"
        elif reply.content_length == -1 and not streamed:
            headers["Content-Length"] = str(len(body))
        elif reply.content_length is not None and reply.content_length >= 0:
            headers["Content-Length"] = str(reply.content_length)
        reason = {200: "OK", 401: "Unauthorized", 429: "Too Many Requests"}.get(reply.status, "Hostile")
        head = f"HTTP/1.1 {reply.status} {reason}\r\n" + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        head += "\r\n"
        try:
            head_bytes = head.encode("latin-1")  # what a client decodes back to the same text
        except UnicodeEncodeError:
            head_bytes = head.encode("utf-8")
        chunks = body if streamed else [body]
        if reply.drip is not None:
            return self._drip(sock, head_bytes + b"".join(chunks), reply)
        sock.sendall(head_bytes)
        sent = 0
        for chunk in chunks:
            if reply.truncate_at is not None and sent + len(chunk) >= reply.truncate_at:
                piece = chunk[:reply.truncate_at - sent]
                sock.sendall(self._framed(piece, reply.chunked) if piece else b"")
                return False
            sock.sendall(self._framed(chunk, reply.chunked))
            sent += len(chunk)
        if reply.chunked:
            sock.sendall(b"0\r\n\r\n")
        claimed_more = reply.content_length not in (None, -1) and reply.content_length > sent
        return not claimed_more and "close" not in headers.get("Connection", "").lower()

    @staticmethod
    def _framed(chunk: bytes, chunked: bool) -> bytes:
        return b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked and chunk else chunk

    def _drip(self, sock, data: bytes, reply: Reply) -> bool:
        ends = time.monotonic() + reply.drip_for
        for index in range(len(data)):
            if time.monotonic() >= ends:
                sock.sendall(data[index:])
                return True
            sock.sendall(data[index:index + 1])
            if self._stopping.wait(reply.drip):
                return False
        return True


# --- a self-signed certificate ----------------------------------------------------------------------


def tls_available() -> str | None:
    """None when a self-signed certificate can be made here, else the reason why not."""
    try:
        import cryptography  # noqa: F401  pylint: disable=unused-import,import-outside-toplevel
        return None
    except ImportError:
        pass
    if shutil.which("openssl"):
        return None
    return "neither the cryptography package nor the openssl command is available to make a test certificate"


def self_signed_certificate(directory: str, host: str = "127.0.0.1") -> tuple:
    """(certificate path, key path) of a fresh self-signed certificate for host, valid for a day."""
    certificate = os.path.join(directory, "certificate.pem")
    key = os.path.join(directory, "key.pem")
    try:
        _with_cryptography(certificate, key, host)
    except ImportError:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=hostile",
                        "-addext", f"subjectAltName=IP:{host}", "-keyout", key, "-out", certificate],
                       check=True, capture_output=True)
    return certificate, key


def _with_cryptography(certificate_path: str, key_path: str, host: str) -> None:
    # pylint: disable=import-outside-toplevel
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hostile")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(host))]), critical=False)
        .sign(key, hashes.SHA256())
    )
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    with open(certificate_path, "wb") as handle:
        handle.write(certificate.public_bytes(serialization.Encoding.PEM))
