"""Where the agent's proofs are made: `LocalProver` (a pool of threads in the agent, the default,
no cluster needed) or `RayProver` (tasks on a Ray cluster, one provider proving on many machines).

Both yield each result as soon as it exists, keyed by example index, so the caller stores it at
once (AgentState keeps the first proof of an index and ignores duplicates). A Ray task carries
the circuit settings and keys by content hash: their bytes are put in the object store once per
agent and fetched, checked against the hash and cached on disk at most once per worker process
(a new process on the same node reuses the checked file), never once per task. A cluster that
disappears mid-job makes `RayProver` log ``ray cluster lost: proving locally`` and go on with
its local pool, which is enough for a few proofs against an answer deadline (an audit's
deadline must leave time to bring a cluster back; see the README's plan)."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import zkmarket_prover as native

from .. import prover as zp
from ..prover.stages import cache_dir
from .logs import log

CONNECT_ATTEMPTS = 3
Result = zp.Proof | Exception  # an index's proof, or why it could not be made


class ProvingFailed(Exception):
    """Some examples could not be proved; the proofs made are stored, the rest retried next tick."""


class LocalProver:
    """`workers` threads over the native prover (which releases the GIL) in the agent process."""

    name = "local"

    def __init__(self, workers: int = 1):
        self.workers = workers
        self.in_flight = 0

    def prove(self, circuit: zp.CompiledCircuit, keys: zp.Keys, items: dict[int, bytes],
              for_aggregation: bool = False) -> Iterator[tuple[int, Result]]:
        prove_one = zp.prove_for_aggregation if for_aggregation else zp.prove
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(prove_one, circuit, keys, list(items[i])): i for i in sorted(items)}
            self.in_flight = min(self.workers, len(futures))
            left = len(futures)
            for future in as_completed(futures):
                left -= 1
                self.in_flight = min(self.workers, left)
                try:
                    yield futures[future], future.result()
                except Exception as e:  # e.g. InputError: counted as failed, the others go on
                    yield futures[future], e
        self.in_flight = 0

    def close(self) -> None:
        """Nothing to release: the pool lives only while proving."""


@dataclass(frozen=True)
class Artifact:
    """Bytes in Ray's object store named by their SHA-256; `ref` sits inside this object so a
    task receives the reference, not the bytes, and fetches them only when its worker lacks them."""

    sha256: str
    ref: object
    name: str


@dataclass(frozen=True)
class Made:
    """A proof from a Ray worker, with where it was made, whether that task had to fetch the
    circuit or keys (at most once per worker process) and how long proving itself took."""

    proof: zp.Proof | None
    node: str
    pid: int
    fetched: bool
    seconds: float  # proving alone, inside the task


_ON_WORKER: dict[str, Path] = {}  # content hash -> checked file, in each Ray worker process


def _local_copy(art: Artifact) -> tuple[Path, bool]:
    """The artifact's file on this worker (and whether it had to be fetched): from this process'
    memory, else the node's disk if its hash checks, else fetched once from the object store."""
    if art.sha256 in _ON_WORKER:
        return _ON_WORKER[art.sha256], False
    import ray

    path = cache_dir("ray") / f"{art.sha256}-{art.name}"
    fetched = False
    if not (path.exists() and native.sha256_file(str(path)) == art.sha256):
        data = ray.get(art.ref)
        if hashlib.sha256(data).hexdigest() != art.sha256:
            raise zp.ArtifactError(f"{art.name} fetched from the object store does not match its hash {art.sha256}")
        tmp = path.with_name(path.name + f".{os.getpid()}.part")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        fetched = True
    _ON_WORKER[art.sha256] = path
    return path, fetched


def prove_on_worker(artifacts: tuple[Artifact, ...], srs: zp.Srs, values: bytes, input_sha256: str,
                    threads: int, for_aggregation: bool = False) -> Made:
    """One proof, in a Ray worker: the circuit and keys by hash (cached), the input checked."""
    import ray

    # The native prover's thread pool starts on its first proof and reads this once: a task
    # holds `threads` CPUs of its node, so it must not spread over the others' cores.
    os.environ.setdefault("RAYON_NUM_THREADS", str(threads))
    if hashlib.sha256(values).hexdigest() != input_sha256:
        raise zp.InputError(f"input does not match its hash {input_sha256}")
    copies = [_local_copy(a) for a in artifacts]
    (settings_path, pk_path, vk_path, srs_path), fetched = [p for p, _ in copies], any(f for _, f in copies)
    keys = zp.Keys(pk_path=pk_path, vk_path=vk_path, srs=dataclasses.replace(srs, path=srs_path))
    circuit = zp.CompiledCircuit(settings_path.read_text())
    start = time.perf_counter()
    proof = (zp.prove_for_aggregation if for_aggregation else zp.prove)(circuit, keys, list(values))
    return Made(proof, ray.get_runtime_context().get_node_id(), os.getpid(), fetched, time.perf_counter() - start)


class RayProver:
    """Proving tasks on the Ray cluster at `address` (``auto``, ``host:port`` or ``ray://...``),
    each holding `cpus` CPUs, retried by Ray on another worker when theirs dies; `fallback`
    proves when the cluster is gone."""

    def __init__(self, address: str, fallback: LocalProver, logger: logging.Logger, cpus: int = 1,
                 retries: int = 3):
        # a Ray call made while not connected must fail, not start a Ray instance in the agent
        os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
        import ray

        self.address, self.fallback, self.logger, self.cpus = address, fallback, logger, cpus
        self.lost = False
        self._in_flight = 0
        self.made: list[Made] = []  # what each result came with (its proof dropped: it is stored)
        for attempt in range(CONNECT_ATTEMPTS):  # a busy head may fail to start its client server once
            try:
                ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
                break
            except Exception as e:
                ray.shutdown()
                error = f"{type(e).__name__}: {e}".splitlines()[0]
                if attempt == CONNECT_ATTEMPTS - 1:
                    raise ConnectionError(f"cannot reach the ray cluster at {address}: {error}") from e
                log(logger, "ray connect failed: retrying", logging.WARNING, address=address, error=error)
                time.sleep(2)
        self._task = ray.remote(num_cpus=cpus, max_retries=retries)(prove_on_worker)
        self._artifacts: dict[tuple[str, str], tuple[Artifact, ...]] = {}
        log(logger, "ray connected", address=address, cpus=ray.cluster_resources().get("CPU", 0))

    @property
    def name(self) -> str:
        return "local (ray cluster lost)" if self.lost else "ray"

    @property
    def in_flight(self) -> int:
        return self.fallback.in_flight if self.lost else self._in_flight

    def _put(self, circuit: zp.CompiledCircuit, keys: zp.Keys) -> tuple[Artifact, ...]:
        """The circuit, keys and SRS in the object store, once per agent process."""
        import ray

        key = (circuit.id, str(keys.pk_path))
        if key not in self._artifacts:
            blobs = [("settings.json", circuit.settings_json.encode()), ("pk.bin", keys.pk_path.read_bytes()),
                     ("vk.bin", keys.vk_path.read_bytes()), ("srs.bin", keys.srs.path.read_bytes())]
            self._artifacts[key] = tuple(Artifact(hashlib.sha256(data).hexdigest(), ray.put(data), name)
                                         for name, data in blobs)
        return self._artifacts[key]

    def prove(self, circuit: zp.CompiledCircuit, keys: zp.Keys, items: dict[int, bytes],
              for_aggregation: bool = False) -> Iterator[tuple[int, Result]]:
        left = dict(items)
        if not self.lost:
            try:
                for i, result in self._prove_on_cluster(circuit, keys, items, for_aggregation):
                    left.pop(i, None)
                    yield i, result
            except (ConnectionError, OSError) as e:
                self._lose(e)
            except Exception as e:
                import ray

                if not isinstance(e, (ray.exceptions.RaySystemError, ray.exceptions.GetTimeoutError)):
                    raise
                self._lose(e)
        if left:
            yield from self.fallback.prove(circuit, keys, left, for_aggregation)

    def close(self) -> None:
        """Disconnects from the cluster (tasks still queued for this agent are dropped by Ray)."""
        import ray

        try:
            ray.shutdown()
        except Exception:  # a lost cluster: nothing left to disconnect from
            pass

    def _lose(self, e: Exception) -> None:
        self.lost, self._in_flight = True, 0
        log(self.logger, "ray cluster lost: proving locally", logging.WARNING, address=self.address,
            error=f"{type(e).__name__}: {e}".splitlines()[0])

    def _prove_on_cluster(self, circuit, keys, items, for_aggregation: bool) -> Iterator[tuple[int, Result]]:
        import ray

        artifacts = self._put(circuit, keys)
        pending = {self._task.remote(artifacts, keys.srs, bytes(items[i]),
                                     hashlib.sha256(bytes(items[i])).hexdigest(), self.cpus, for_aggregation): i
                   for i in sorted(items)}
        try:
            self._in_flight = len(pending)
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                i = pending.pop(ready[0])
                self._in_flight = len(pending)
                try:
                    made = ray.get(ready[0])
                except (ray.exceptions.RayTaskError, ray.exceptions.WorkerCrashedError,
                        ray.exceptions.NodeDiedError, ray.exceptions.ObjectLostError) as e:
                    yield i, e  # retries exhausted, or the prover refused it: counted as failed
                    continue
                self.made.append(dataclasses.replace(made, proof=None))
                yield i, made.proof
        finally:
            self._in_flight = 0
            # The caller stopped early: cancel the rest. Not once the cluster is gone (its tasks
            # died with it), since a Ray call without a connection starts a local Ray instead.
            for ref in pending if ray.is_initialized() else ():
                try:
                    ray.cancel(ref)
                except Exception:  # lost meanwhile
                    pass


Prover = LocalProver | RayProver


def make_prover(address: str | None, workers: int, logger: logging.Logger, cpus: int = 1):
    """The executor the settings choose: local by default, Ray when an address is given."""
    local = LocalProver(workers)
    return local if not address else RayProver(address, local, logger, cpus=cpus)
