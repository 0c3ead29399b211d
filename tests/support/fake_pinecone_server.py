"""A real HTTP server on 127.0.0.1 speaking Pinecone's data-plane REST protocol.

The `pinecone` SDK's index client is pointed at it by host (http://127.0.0.1:<port>) and talks
to it exactly as to an index on Pinecone: POST /vectors/upsert, POST /query (dense vector,
top_k, namespace, metadata filter), POST /vectors/delete (ids or deleteAll), GET /vectors/fetch,
POST /describe_index_stats. Scores are cosine similarities, filters support Pinecone's operators
($eq $ne $gt $gte $lt $lte $in $nin $and $or; a list-valued field matches if any element does).

`down = True` answers 503 to everything (Pinecone unreachable, as far as the client can tell);
`api_key` is checked on every request (Api-Key header). `requests` records what was asked.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.support.local_http import LocalHTTPServer


@dataclass
class StoredVector:
    values: list[float]
    metadata: dict[str, Any]


def _cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def _compare(op: str, value: Any, operand: Any) -> bool:
    values = value if isinstance(value, list) else [value]
    if op == "$eq":
        return operand in values
    if op == "$ne":
        return operand not in values
    if op == "$in":
        return any(v in operand for v in values)
    if op == "$nin":
        return not any(v in operand for v in values)
    if value is None or isinstance(value, list):
        return False
    return {
        "$gt": value > operand,
        "$gte": value >= operand,
        "$lt": value < operand,
        "$lte": value <= operand,
    }[op]


def matches(metadata: dict[str, Any], flt: dict[str, Any] | None) -> bool:
    if not flt:
        return True
    for key, condition in flt.items():
        if key == "$and":
            if not all(matches(metadata, sub) for sub in condition):
                return False
        elif key == "$or":
            if not any(matches(metadata, sub) for sub in condition):
                return False
        elif isinstance(condition, dict):
            if key not in metadata and not any(op in ("$ne", "$nin") for op in condition):
                return False
            if not all(_compare(op, metadata.get(key), operand) for op, operand in condition.items()):
                return False
        elif not _compare("$eq", metadata.get(key), condition):
            return False
    return True


@dataclass
class FakePinecone(LocalHTTPServer):
    api_key: str = "pc-test-key"
    dimension: int = 0  # learnt from the first upsert
    down: bool = False
    namespaces: dict[str, dict[str, StoredVector]] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._listen(_Handler)

    @property
    def host(self) -> str:
        return self.origin

    def plant(self, namespace: str, vector_id: str, values: list[float], metadata: dict[str, Any]) -> None:
        """Put a vector straight into the index, as if someone else had written it."""
        with self._lock:
            self.namespaces.setdefault(namespace, {})[vector_id] = StoredVector(values, metadata)

    # --- the protocol ------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: dict[str, Any]) -> Any:
        with self._lock:
            if method == "POST" and path == "/vectors/upsert":
                space = self.namespaces.setdefault(body.get("namespace", ""), {})
                for vector in body["vectors"]:
                    if self.dimension and len(vector["values"]) != self.dimension:
                        return 400, {"code": 3, "message": "Vector dimension does not match the index"}
                    self.dimension = self.dimension or len(vector["values"])
                    space[vector["id"]] = StoredVector(
                        list(vector["values"]), dict(vector.get("metadata") or {})
                    )
                return 200, {"upsertedCount": len(body["vectors"])}
            if method == "POST" and path == "/query":
                space = self.namespaces.get(body.get("namespace", ""), {})
                scored = [
                    (vector_id, _cosine(body["vector"], stored.values), stored)
                    for vector_id, stored in space.items()
                    if matches(stored.metadata, body.get("filter"))
                ]
                scored.sort(key=lambda item: item[1], reverse=True)
                return 200, {
                    "matches": [
                        {
                            "id": vector_id,
                            "score": score,
                            **({"metadata": stored.metadata} if body.get("includeMetadata") else {}),
                        }
                        for vector_id, score, stored in scored[: body["topK"]]
                    ],
                    "namespace": body.get("namespace", ""),
                    "usage": {"readUnits": 1},
                }
            if method == "POST" and path == "/vectors/delete":
                namespace = body.get("namespace", "")
                if body.get("deleteAll"):
                    self.namespaces.pop(namespace, None)
                else:
                    space = self.namespaces.get(namespace, {})
                    for vector_id in body.get("ids", []):
                        space.pop(vector_id, None)
                return 200, {}
            if method == "GET" and path == "/vectors/fetch":
                space = self.namespaces.get((query.get("namespace") or [""])[0], {})
                found = {
                    vector_id: {
                        "id": vector_id,
                        "values": space[vector_id].values,
                        "metadata": space[vector_id].metadata,
                    }
                    for vector_id in query.get("ids", [])
                    if vector_id in space
                }
                return 200, {"vectors": found, "namespace": (query.get("namespace") or [""])[0], "usage": {}}
            if method == "POST" and path == "/describe_index_stats":
                spaces = {
                    name: {"vectorCount": len(space)} for name, space in self.namespaces.items() if space
                }
                return 200, {
                    "namespaces": spaces,
                    "dimension": self.dimension,
                    "indexFullness": 0.0,
                    "totalVectorCount": sum(s["vectorCount"] for s in spaces.values()),
                }
        return 404, {"code": 5, "message": f"no route {method} {path}"}


class _Handler(BaseHTTPRequestHandler):
    state: FakePinecone
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def _serve(self, method: str) -> None:
        url = urlparse(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        self.state.requests.append((f"{method} {url.path}", body))
        if self.state.down:
            status, answer = 503, {"code": 14, "message": "unavailable"}
        elif self.headers.get("Api-Key") != self.state.api_key:
            status, answer = 401, {"code": 16, "message": "Invalid API Key"}
        else:
            status, answer = self.state.handle(method, url.path, parse_qs(url.query), body)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")
