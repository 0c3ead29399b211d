"""A real HTTP server on 127.0.0.1 speaking the subset of the Cloud Storage JSON API that
backend/files/store.py's GCSFileStore uses through google-cloud-storage.

The real client (``storage.Client`` with anonymous credentials and ``api_endpoint`` set to this
server's origin, see ``gcs_client``) talks to it exactly as it would to storage.googleapis.com,
so the store is tested end to end without mocks. Routes:

    POST   /upload/storage/v1/b/{bucket}/o?uploadType=multipart   upload (metadata + media parts)
    POST   /upload/storage/v1/b/{bucket}/o?uploadType=media&name=  upload (media only)
    GET    /download/storage/v1/b/{bucket}/o/{object}?alt=media   download, with x-goog-hash
    GET    /storage/v1/b/{bucket}                                 bucket metadata (the client reads it)
    GET    /storage/v1/b/{bucket}/o/{object}                      metadata (Blob.exists)
    DELETE /storage/v1/b/{bucket}/o/{object}                      delete

Object names arrive URL-encoded ("u1%2Fabc.png"). An unknown bucket or object answers 404 in
the API's error shape, as Google does. ``requests`` records every call (method, route, query).
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import google_crc32c

from tests.support.local_http import LocalHTTPServer

UPLOAD = "/upload/storage/v1/b/"
DOWNLOAD = "/download/storage/v1/b/"
METADATA = "/storage/v1/b/"


@dataclass
class StoredObject:
    data: bytes
    content_type: str
    generation: int


@dataclass
class GCSRequest:
    method: str
    route: str  # "upload" | "download" | "bucket" | "metadata" | "delete"
    bucket: str
    name: str
    query: dict[str, str]


@dataclass
class FakeGCSServer(LocalHTTPServer):
    buckets: set[str] = field(default_factory=lambda: {"llmdash-files"})
    objects: dict[tuple[str, str], StoredObject] = field(default_factory=dict)  # (bucket, name)
    requests: list[GCSRequest] = field(default_factory=list)
    _generation: int = 0

    def __post_init__(self) -> None:
        self._listen(_Handler)

    def routes(self) -> list[str]:
        return [r.route for r in self.requests]

    def resource(self, bucket: str, name: str) -> dict[str, Any]:
        stored = self.objects[(bucket, name)]
        return {
            "kind": "storage#object",
            "id": f"{bucket}/{name}/{stored.generation}",
            "name": name,
            "bucket": bucket,
            "generation": str(stored.generation),
            "metageneration": "1",
            "contentType": stored.content_type,
            "size": str(len(stored.data)),
            "md5Hash": _md5(stored.data),
            "crc32c": _crc32c(stored.data),
        }

    def store(self, bucket: str, name: str, data: bytes, content_type: str) -> None:
        self._generation += 1
        self.objects[(bucket, name)] = StoredObject(data, content_type, self._generation)


def gcs_client(server: FakeGCSServer) -> Any:
    """google-cloud-storage's own client, pointed at the fake (no credentials needed)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    return storage.Client(
        project="llmdash-test",
        credentials=AnonymousCredentials(),
        client_options={"api_endpoint": server.origin},
    )


def _md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()  # what GCS reports beside crc32c


def _crc32c(data: bytes) -> str:
    return base64.b64encode(google_crc32c.Checksum(data).digest()).decode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: FakeGCSServer

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass

    # --- plumbing -----------------------------------------------------------
    def _target(self, prefix: str) -> tuple[str, str, dict[str, str]]:
        """(bucket, object name, query) of a path under ``prefix``: "{bucket}/o[/{object}]"."""
        parts = urlsplit(self.path)
        bucket, _, rest = parts.path[len(prefix) :].partition("/o")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        return unquote(bucket), unquote(rest.removeprefix("/")), query

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=UTF-8")

    def _not_found(self, what: str) -> None:
        self._json(404, {"error": {"code": 404, "message": f"No such {what}.", "errors": []}})

    def _known(self, bucket: str, name: str) -> bool:
        if bucket not in self.state.buckets:
            self._not_found(f"bucket: {bucket}")
            return False
        if (bucket, name) not in self.state.objects:
            self._not_found(f"object: {bucket}/{name}")
            return False
        return True

    # --- routes --------------------------------------------------------------
    def do_POST(self) -> None:
        if not self.path.startswith(UPLOAD):
            self._not_found("route")
            return
        bucket, _, query = self._target(UPLOAD)
        body = self._body()
        if query.get("uploadType") == "multipart":
            name, content_type, data = _multipart(self.headers.get("Content-Type", ""), body)
        elif query.get("uploadType") == "media":
            name = query.get("name", "")
            content_type, data = self.headers.get("Content-Type", "application/octet-stream"), body
        else:
            self._json(400, {"error": {"code": 400, "message": "Only multipart and media uploads here."}})
            return
        self.state.requests.append(GCSRequest("POST", "upload", bucket, name, query))
        if bucket not in self.state.buckets:
            self._not_found(f"bucket: {bucket}")
            return
        self.state.store(bucket, name, data, content_type)
        self._json(200, self.state.resource(bucket, name))

    def do_GET(self) -> None:
        if self.path.startswith(DOWNLOAD):
            bucket, name, query = self._target(DOWNLOAD)
            self.state.requests.append(GCSRequest("GET", "download", bucket, name, query))
            if self._known(bucket, name):
                stored = self.state.objects[(bucket, name)]
                hashes = f"crc32c={_crc32c(stored.data)},md5={_md5(stored.data)}"
                self._send(200, stored.data, stored.content_type, {"x-goog-hash": hashes})
            return
        if self.path.startswith(METADATA) and "/o" not in urlsplit(self.path).path[len(METADATA) :]:
            bucket, _, query = self._target(METADATA)
            self.state.requests.append(GCSRequest("GET", "bucket", bucket, "", query))
            if bucket in self.state.buckets:
                self._json(200, {"kind": "storage#bucket", "id": bucket, "name": bucket})
            else:
                self._not_found(f"bucket: {bucket}")
            return
        if self.path.startswith(METADATA):
            bucket, name, query = self._target(METADATA)
            self.state.requests.append(GCSRequest("GET", "metadata", bucket, name, query))
            if self._known(bucket, name):
                self._json(200, self.state.resource(bucket, name))
            return
        self._not_found("route")

    def do_DELETE(self) -> None:
        if not self.path.startswith(METADATA):
            self._not_found("route")
            return
        bucket, name, query = self._target(METADATA)
        self.state.requests.append(GCSRequest("DELETE", "delete", bucket, name, query))
        if self._known(bucket, name):
            del self.state.objects[(bucket, name)]
            self._send(204, b"", "application/json")


def _multipart(content_type: str, body: bytes) -> tuple[str, str, bytes]:
    """(object name, its content type, its bytes) of a multipart/related upload body: a JSON
    metadata part, then the media part."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + body)
    metadata_part, media_part = list(message.iter_parts())
    metadata = json.loads(bytes(metadata_part.get_payload(decode=True)))
    media = bytes(media_part.get_payload(decode=True))
    return str(metadata["name"]), str(metadata.get("contentType") or media_part.get_content_type()), media
