"""Apache Kafka (KRaft) on loopback for the tests, bench/ and scripts/stack.

The broker's jars come from Maven Central: `tools/kafka/pom.xml` names
`org.apache.kafka:kafka_2.13` (and a log4j2 binding); `kafka_libs()` has Maven
copy them and their dependencies into `data/kafka/<version>/libs` once, and every
later call reuses that folder.  Each node runs on the machine's Java 17 as one
combined broker + controller process (`kafka.Kafka`), its storage formatted
with a fresh cluster id in a folder of the caller's, its heap capped
(`KAFKA_HEAP`, default 512 MiB) and its thread pools sized for 2 cores.

`kafka_cluster(dir, nodes=1)` starts one node (what the suite shares per
session); `nodes=3` starts a three-voter quorum, every topic replicated three
times with min.insync.replicas 2, so one node can be stopped under load
(`stop_node`, `start_node`) while producers with acks=all keep writing.

    python -m devstack.kafka_server [--port 9092] [--data DIR]

runs one node in the foreground (scripts/stack).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from devstack.app_process import free_port

ROOT = Path(__file__).resolve().parents[1]
POM = ROOT / "tools" / "kafka" / "pom.xml"
LOG_CONFIG = ROOT / "tools" / "kafka" / "log4j2.yaml"
STARTED = "Kafka Server started"
START_TIMEOUT_S = float(os.environ.get("KAFKA_START_TIMEOUT_S", "90"))


def kafka_version() -> str:
    match = re.search(r"<kafka.version>([^<]+)</kafka.version>", POM.read_text())
    if match is None:
        raise RuntimeError(f"{POM} names no <kafka.version>")
    return match.group(1)


def kafka_libs() -> Path:
    """The folder of the broker's jars, fetched through Maven the first time."""
    libs = ROOT / "data" / "kafka" / kafka_version() / "libs"
    stamp = libs / ".complete"
    if stamp.exists():
        return libs
    if shutil.which("mvn") is None:
        raise RuntimeError("Maven (mvn) is needed to fetch the Kafka broker's jars (Debian package maven)")
    partial = Path(tempfile.mkdtemp(prefix="libs-", dir=libs.parent if libs.parent.exists() else None))
    subprocess.run(
        [
            "mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
            f"-DoutputDirectory={partial}", "-DincludeScope=runtime",
        ],
        check=True,
    )  # fmt: skip
    libs.parent.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(libs, ignore_errors=True)
    partial.rename(libs)  # whole or not at all: a cut-off fetch is redone next time
    stamp.touch()
    return libs


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("Java 17+ is needed to run the Kafka broker (Debian openjdk-17-jre-headless)")
    return java


def _cluster_id() -> str:
    """Kafka's form (a UUID in URL-safe base64), never starting with "-": the storage tool's
    argument parser took such an id for an option and refused to format (1 start in 64)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


@dataclass
class KafkaNode:
    node_id: int
    port: int
    controller_port: int
    data_dir: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def properties(self, voters: str, replicas: int) -> str:
        isr = min(2, replicas)
        return "\n".join(
            [
                "process.roles=broker,controller",
                f"node.id={self.node_id}",
                f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"controller.quorum.voters={voters}",
                f"log.dirs={self.data_dir / 'log'}",
                # The app creates its topics with the partitions it wants.
                "auto.create.topics.enable=false",
                f"default.replication.factor={replicas}",
                f"min.insync.replicas={isr}",
                f"offsets.topic.replication.factor={replicas}",
                # 50 partitions by default: a fresh cluster's first group join would wait for all.
                "offsets.topic.num.partitions=10",
                f"transaction.state.log.replication.factor={replicas}",
                f"transaction.state.log.min.isr={isr}",
                f"share.coordinator.state.topic.replication.factor={replicas}",
                f"share.coordinator.state.topic.min.isr={isr}",
                # A test's consumer group should not sit out the default 3 s before its first assignment.
                "group.initial.rebalance.delay.ms=0",
                # Sized for a 2-core machine shared with the app, its workers and browsers.
                "num.network.threads=2",
                "num.io.threads=2",
                "background.threads=2",
                "num.replica.fetchers=1",
                "num.recovery.threads.per.data.dir=1",
                "log.cleaner.threads=1",
                "",
            ]
        )

    def start(self, libs: Path) -> None:
        heap = os.environ.get("KAFKA_HEAP", "512m")
        log = open(self.log_path, "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(
            [
                _java(), f"-Xms{min_heap(heap)}", f"-Xmx{heap}", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20",
                "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={LOG_CONFIG}",
                "-cp", f"{libs}/*", "kafka.Kafka", str(self.data_dir / "server.properties"),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl+C in a terminal is the harness's to pass on
        )  # fmt: skip
        log.close()

    def wait_started(self, since: int, timeout: float = START_TIMEOUT_S) -> None:
        """Until this start's "Kafka Server started" line (the log past byte `since`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"Kafka node {self.node_id} exited; see {self.log_path}")
            with open(self.log_path, "rb") as log:
                log.seek(since)
                if STARTED.encode() in log.read():
                    return
            time.sleep(0.1)
        raise RuntimeError(f"Kafka node {self.node_id} did not start in {timeout:.0f} s; see {self.log_path}")

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (a controlled shutdown: leadership moves first) or SIGKILL (a crash)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.process = None


def min_heap(heap: str) -> str:
    return "128m" if heap.endswith("m") and int(heap[:-1]) > 128 else heap


@dataclass
class KafkaCluster:
    """`nodes` combined broker + controller processes forming one KRaft quorum."""

    work_dir: Path
    nodes: int = 1
    ports: list[int] | None = None
    members: list[KafkaNode] = field(default_factory=list)

    @property
    def bootstrap(self) -> str:
        return ",".join(node.address for node in self.members)

    @property
    def port(self) -> int:
        return self.members[0].port

    @property
    def pids(self) -> list[int]:
        return [pid for node in self.members if (pid := node.pid) is not None]

    def start(self) -> None:
        libs = kafka_libs()
        ports = self.ports or [free_port() for _ in range(self.nodes)]
        self.members = [
            KafkaNode(n, port, free_port(), self.work_dir / f"node-{n}", self.work_dir / f"node-{n}.log")
            for n, port in enumerate(ports, start=1)
        ]
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.members)
        cluster_id = _cluster_id()
        for node in self.members:
            node.data_dir.mkdir(parents=True, exist_ok=True)
            config = node.data_dir / "server.properties"
            config.write_text(node.properties(voters, self.nodes))
            subprocess.run(
                [_java(), "-Xmx256m", f"-Dlog4j2.configurationFile={LOG_CONFIG}", "-cp", f"{libs}/*",
                 "kafka.tools.StorageTool", "format", f"--cluster-id={cluster_id}", "-c", str(config)],
                check=True,
                stdout=subprocess.DEVNULL,
            )  # fmt: skip
        offsets = [_size(node.log_path) for node in self.members]
        for node in self.members:
            node.start(libs)
        for node, offset in zip(self.members, offsets, strict=True):
            node.wait_started(offset)

    def stop_node(self, index: int, kill: bool = False) -> None:
        self.members[index].stop(kill=kill)

    def start_node(self, index: int) -> None:
        node = self.members[index]
        offset = _size(node.log_path)
        node.start(kafka_libs())
        node.wait_started(offset)

    def stop(self, kill: bool = False) -> None:
        for node in reversed(self.members):
            node.stop(kill=kill)


def _size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


@contextlib.contextmanager
def kafka_cluster(work_dir: Path | None = None, nodes: int = 1) -> Iterator[KafkaCluster]:
    """A fresh cluster of `nodes` under `work_dir` (a temporary folder if None), stopped on exit."""
    with contextlib.ExitStack() as stack:
        if work_dir is None:
            work_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="llmdash-kafka-")))
        cluster = KafkaCluster(work_dir, nodes)
        stack.callback(cluster.stop, kill=True)  # throw-away data: no controlled shutdown to wait for
        cluster.start()
        yield cluster


def main() -> int:
    parser = argparse.ArgumentParser(description="Run one Apache Kafka node (KRaft) on loopback.")
    parser.add_argument("--port", type=int, default=9092)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "kafka" / "stack")
    parser.add_argument("--fetch-only", action="store_true", help="fetch the jars and exit")
    args = parser.parse_args()
    if args.fetch_only:
        print(kafka_libs())
        return 0
    shutil.rmtree(args.data, ignore_errors=True)  # a fresh cluster id every time: format refuses old data
    args.data.mkdir(parents=True)
    cluster = KafkaCluster(args.data, 1, ports=[args.port])
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    started = time.monotonic()
    cluster.start()
    print(f"kafka: {cluster.bootstrap} started in {time.monotonic() - started:.1f} s", flush=True)
    try:
        node = cluster.members[0]
        while not stopping and node.process is not None and node.process.poll() is None:
            time.sleep(0.5)
    finally:
        cluster.stop()
    return 0 if stopping else 1


if __name__ == "__main__":
    sys.exit(main())
