"""RunStore: results and weights on disk, one folder per spec hash.

Layout under ``root`` (default ``RESNET_VIZ_HOME/runs``)::

    <key>/spec.json      {"kind": ..., "spec": {...}}
    <key>/status.json    {"status": "running" | "done" | "failed" | "interrupted", ...}
    <key>/result.json    the experiment's JSON result (written last: its presence commits the run)
    <key>/<name>.safetensors   weights (never pickle)

Every file is written to a temporary name and renamed into place, so a crash leaves either the old
file or the new one. A folder that cannot be read back (corrupt JSON, missing result) is reported in
:attr:`RunStore.problems` and skipped, never raised to the caller.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import re
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .paths import home

log = logging.getLogger(__name__)
STORE_VERSION = 1  # bump when a change makes stored results incomparable
_KEY = re.compile(r"^[0-9a-f]{20}$")
_NAME = re.compile(r"^[a-z0-9_]{1,40}$")


def spec_dict(spec: Any) -> dict:
    return dataclasses.asdict(spec) if dataclasses.is_dataclass(spec) else dict(spec)


# Settings added after runs were stored, with their defaults: left out of a key while at their default, so
# the runs stored before them keep their keys (a setting at another value makes another run).
# A group of settings added later (a nested config) is left out while all of its settings are at their defaults.
ADDED_LATER = {"residual_scale": 1.0, "pretrained": "", "weights": "", "test_images": 500}
GROUPS_ADDED_LATER = ("source",)


def _without_added(data: Any) -> Any:
    if isinstance(data, dict):
        kept = {k: _without_added(v) for k, v in data.items()
                if not (k in ADDED_LATER and v == ADDED_LATER[k])}
        return {k: v for k, v in kept.items() if not (k in GROUPS_ADDED_LATER and v == {})}
    return data


def spec_key(kind: str, spec: Any) -> str:
    """Stable 20-hex-digit hash of an experiment kind and its spec (see ``ADDED_LATER``)."""
    blob = json.dumps({"kind": kind, "spec": _without_added(spec_dict(spec)), "v": STORE_VERSION}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:20]


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_json(path: Path, obj: Any) -> None:
    _atomic_write(path, json.dumps(obj, indent=1, allow_nan=True).encode())


@dataclass(frozen=True)
class StoredRun:
    key: str
    kind: str
    spec: dict
    result: dict
    status: dict
    path: Path


def _alive(pid: Any) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


class RunStore:
    """Results and weights on disk, keyed by (kind, spec)."""

    def __init__(self, root: str | Path | None = None) -> None:
        self.root = Path(root) if root else home() / "runs"
        self.problems: list[str] = []

    def _dir(self, key: str) -> Path:
        if not _KEY.match(key):  # keys are our own hashes; nothing a user types becomes a path
            raise ValueError(f"not a run key: {key!r}")
        return self.root / key

    def key(self, kind: str, spec: Any) -> str:
        return spec_key(kind, spec)

    # --- writing ----------------------------------------------------------------------------------
    def begin(self, kind: str, spec: Any) -> str:
        """Create the run's folder with its spec and status "running"; returns its key."""
        key = spec_key(kind, spec)
        folder = self._dir(key)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "result.json").unlink(missing_ok=True)
        _write_json(folder / "spec.json", {"kind": kind, "spec": spec_dict(spec)})
        self._set_status(key, "running", pid=os.getpid(), host=socket.gethostname())
        return key

    def finish(self, key: str, result: dict, weights: dict[str, dict[str, torch.Tensor]] | None = None) -> None:
        """Write weights, then the result, then status "done"."""
        folder = self._dir(key)
        for name, state in (weights or {}).items():
            if not _NAME.match(name):
                raise ValueError(f"weight name must match {_NAME.pattern}; got {name!r}")
            tensors = {k: v.detach().to("cpu").contiguous() for k, v in state.items()}
            fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=".tmp")
            os.close(fd)
            try:
                save_file(tensors, tmp)
                os.replace(tmp, folder / f"{name}.safetensors")
            finally:
                Path(tmp).unlink(missing_ok=True)
        _write_json(folder / "result.json", result)
        self._set_status(key, "done")

    def fail(self, key: str, error: str) -> None:
        self._set_status(key, "failed", error=error)

    def interrupt(self, key: str, why: str) -> None:
        """Mark a run that never finished as interrupted (its machine was lost), unless it finished."""
        status = self.status(key)
        if status is not None and status.get("status") == "running":
            self._set_status(key, "interrupted", error=why)

    def save(self, kind: str, spec: Any, result: dict,
             weights: dict[str, dict[str, torch.Tensor]] | None = None) -> str:
        key = self.begin(kind, spec)
        self.finish(key, result, weights)
        return key

    def _set_status(self, key: str, status: str, **extra: Any) -> None:
        _write_json(self._dir(key) / "status.json", {"status": status, "time": time.time(), **extra})

    def delete(self, key: str) -> None:
        shutil.rmtree(self._dir(key), ignore_errors=True)

    def check_writable(self) -> None:
        """Raise ValueError with a clear message when results cannot be saved here (read-only, full)."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".write-check.")
            try:
                os.write(fd, b"ok" * 2048)
            finally:
                os.close(fd)
                Path(probe).unlink(missing_ok=True)
        except OSError as exc:
            raise ValueError(f"the run store {self.root} cannot be written ({exc.strerror or exc}): results could "
                             "not be saved, so nothing can be trained. The host can point RESNET_VIZ_HOME at a "
                             "writable folder with free space; stored results can still be viewed.") from None

    # --- reading ----------------------------------------------------------------------------------
    def state(self, key: str) -> dict | None:
        """The run's status, with "running" turned into "interrupted" when the process that was
        running it on this machine is gone (the server was killed or the machine restarted). A run on
        another machine of a cluster stays "running" here; the job manager that sent it there marks it
        interrupted when that machine is lost. None if absent."""
        status = self.status(key)
        if status is None:
            return None
        here = status.get("host") in (None, socket.gethostname())
        if status.get("status") == "running" and here and not _alive(status.get("pid")):
            return {**status, "status": "interrupted"}
        return status

    def status(self, key: str) -> dict | None:
        try:
            return json.loads((self._dir(key) / "status.json").read_text())
        except (OSError, ValueError):
            return None

    def _read(self, key: str) -> StoredRun | None:
        folder = self._dir(key)
        status = self.status(key)
        if status is None or status.get("status") != "done":
            return None
        try:
            spec = json.loads((folder / "spec.json").read_text())
            result = json.loads((folder / "result.json").read_text())
            if not isinstance(result, dict) or not isinstance(spec, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            problem = f"run {key} in {folder} is corrupt or half-written ({exc}); skipped"
            if problem not in self.problems:
                self.problems.append(problem)
                log.warning(problem)
            return None
        return StoredRun(key, spec.get("kind", "?"), spec.get("spec", {}), result, status, folder)

    def get(self, kind: str, spec: Any) -> StoredRun | None:
        """The finished run for (kind, spec), or None (absent, unfinished or corrupt)."""
        return self._read(spec_key(kind, spec))

    def runs(self, kind: str | None = None) -> list[StoredRun]:
        """Finished, readable runs, newest first; unreadable ones go to :attr:`problems`."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            if folder.is_dir() and _KEY.match(folder.name):
                run = self._read(folder.name)
                if run is not None and (kind is None or run.kind == kind):
                    found.append(run)
        return sorted(found, key=lambda r: r.status.get("time", 0), reverse=True)

    def load_weights(self, key: str, name: str = "model") -> dict[str, torch.Tensor]:
        """Weights saved with a run (safetensors: loading them runs no code)."""
        if not _NAME.match(name):
            raise ValueError(f"weight name must match {_NAME.pattern}; got {name!r}")
        return load_file(self._dir(key) / f"{name}.safetensors")
