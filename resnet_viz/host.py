"""What the host decides: threads for jobs and for the server, per-job caps, job priority.

Read from the environment only (never from a user). Kept apart from :mod:`resnet_viz.jobs` so that
the experiments and the cost model can use it without importing the job manager.
"""

from __future__ import annotations

import os
from typing import Any


def cores() -> int:
    """CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def physical_cores() -> int:
    """Physical cores among the CPUs this process may use: two hyperthreads (SMT siblings) of one core count
    once, as they share its execution units (Linux's topology files; elsewhere :func:`cores`)."""
    from pathlib import Path

    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:
        return cores()
    seen = set()
    for cpu in cpus:
        topology = Path(f"/sys/devices/system/cpu/cpu{cpu}/topology")
        try:
            seen.add((topology / "physical_package_id").read_text().strip() + ":" + (topology / "core_id").read_text().strip())
        except OSError:
            return len(cpus)
    return max(1, len(seen))


def job_threads() -> int:
    """Torch threads of a job's process: RESNET_VIZ_JOB_THREADS, else one per core minus one, left to
    the server and the browsers (measured: the default preset trained live in 176 s with 1 thread and
    218 s with 2 beside the server and Chromium on the 2-core development machine)."""
    raw = os.environ.get("RESNET_VIZ_JOB_THREADS", "")
    try:
        return max(1, int(raw)) if raw else max(1, cores() - 1)
    except ValueError:
        raise ValueError(f"RESNET_VIZ_JOB_THREADS must be a whole number; the host set {raw!r}") from None


def server_threads() -> int:
    """Torch threads of the server's own interactive work (lesions, attributions, probes):
    RESNET_VIZ_SERVER_THREADS, else the cores a job leaves free (1 on a 2-core machine). With two
    processes' OpenMP threads fighting over two cores, the depth-56 gradient probe took 0.7-47 s with
    2 threads and a steady 1.0-1.3 s with 1."""
    raw = os.environ.get("RESNET_VIZ_SERVER_THREADS", "")
    try:
        return max(1, int(raw)) if raw else max(1, cores() - job_threads())
    except ValueError:
        raise ValueError(f"RESNET_VIZ_SERVER_THREADS must be a whole number; the host set {raw!r}") from None


_policy_applied = False


def apply_server_policy() -> int:
    """Set the server process's torch threads once, when the server starts (never per call: the
    setting is process-wide, and sessions would race each other). Returns the thread count."""
    global _policy_applied
    import torch

    if not _policy_applied:
        torch.set_num_threads(server_threads())
        _policy_applied = True
    return torch.get_num_threads()


def lower_priority() -> None:
    """Run the calling process at a lower CPU priority (``nice`` RESNET_VIZ_JOB_NICE, default 10) so
    that the server answering the students always comes first; training takes the cycles left."""
    try:
        os.nice(int(os.environ.get("RESNET_VIZ_JOB_NICE", "10")))
    except (AttributeError, OSError, ValueError):  # no nice on this OS, or not allowed: train as is
        pass


# Per-job caps a host sets so that one student cannot stall the class (CPU only: on a GPU host a job is not
# capped, so ResNet-1001 trains there). Depth 164: ResNet-164 (pre-activation bottleneck) fits a CPU host.
CAPS = {"depth": ("RESNET_VIZ_MAX_DEPTH", 164), "width": ("RESNET_VIZ_MAX_WIDTH", 32),
        "steps": ("RESNET_VIZ_MAX_STEPS", 2000)}


def caps() -> dict[str, int]:
    """The per-job limits in force: {"depth", "width", "steps"}; RESNET_VIZ_MAX_* override them."""
    out = {}
    for name, (variable, default) in CAPS.items():
        raw = os.environ.get(variable, "")
        try:
            out[name] = int(raw) if raw else default
        except ValueError:
            raise ValueError(f"{variable} must be a whole number; the host set {raw!r}") from None
    return out


def check_caps(runs: list[Any], device: str) -> None:
    """Refuse a background job beyond the host's per-job caps when it would train on a CPU.

    Args:
        runs: the training runs the job implies (objects with ``net.depth``, ``net.width``,
            ``train.steps``).
        device: the device setting of the job.
    """
    from .train import resolve_device

    try:
        if resolve_device(device).type != "cpu":
            return
    except ValueError:
        return  # the experiment itself reports an unavailable device
    values = {"depth": max((r.net.depth for r in runs), default=0), "width": max((r.net.width for r in runs), default=0),
              "steps": max((r.train.steps for r in runs), default=0)}
    for name, limit in caps().items():
        if values[name] > limit:
            variable = CAPS[name][0]
            raise ValueError(f"{name} {values[name]} is above this server's limit of {limit} per job on a CPU "
                             f"(set by the host with {variable}), so that one run cannot stall the class. "
                             f"Pick {name} {limit} or less.")


LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0", "")


def public_url(port: int = 8501, given: str | None = None) -> tuple[str, bool]:
    """(the address students reach the dashboard at, whether it works on this computer only), for the
    CLI: RESNET_VIZ_PUBLIC_URL when the host set it, else this machine's address on its network (the
    one a UDP socket would use; nothing is sent), else localhost. The pages use Streamlit's own view
    of the address (:func:`resnet_viz.ui.lang.public_address`)."""
    import socket

    base = (given or os.environ.get("RESNET_VIZ_PUBLIC_URL", "")).rstrip("/")
    if not base:
        ip = ""
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("10.255.255.255", 1))
                ip = s.getsockname()[0]
        except OSError:
            pass
        base = f"http://{ip or 'localhost'}:{port}"
    return base, is_local(base)


def is_local(base: str) -> bool:
    """Does this address reach this computer only (localhost, 127.x, 0.0.0.0)?"""
    from urllib.parse import urlsplit

    host = urlsplit(base if "://" in base else f"http://{base}").hostname or ""
    return host in LOCAL_HOSTS or host.startswith("127.")
