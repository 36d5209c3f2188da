"""Which small convolutions does this CPU's oneDNN path break on? A sweep of in/out channels, kernel,
stride, memory format and precision, each trained (forward + backward, weights and input) a few
steps in a worker process, so that an abort, a segfault or a hang is one row, not the end of the sweep.

    python bench/conv_shapes.py                                   # this CPU as it is
    ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python bench/conv_shapes.py   # as an AVX2 CPU
    python bench/conv_shapes.py --channels 1-8 --out bench/results/conv_shapes_avx2.json

glibc checks the heap on every free (MALLOC_CHECK_=3), so a kernel that writes past its buffer aborts at
the case that did it instead of corrupting a later one; a case that failed in a shared worker is run
again alone to confirm it. Prints one JSON object: the machine, the counts, and every failing case
(``crash`` with its signal, or ``hang``), plus the speed of channels-last against contiguous convs on
the shapes that worked.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from common import emit  # noqa: E402

WORKER = r"""
import json, sys, time
import torch
from torch import nn
torch.set_num_threads(int(sys.argv[1]))
for line in sys.stdin:
    cin, cout, k, stride, fmt, dtype, batch, size, steps = json.loads(line)
    print("start", flush=True)
    torch.manual_seed(0)
    conv = nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)
    x = torch.randn(batch, cin, size, size, requires_grad=True)
    if fmt == "channels_last":
        conv = conv.to(memory_format=torch.channels_last)
        x = x.detach().contiguous(memory_format=torch.channels_last).requires_grad_()
    auto = torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bf16")
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        with auto:
            y = conv(x)
        y.float().square().mean().backward()
        times.append(time.perf_counter() - start)
    print("done", min(times[1:] or times), flush=True)
"""


def _range(text: str) -> list[int]:
    lo, _, hi = text.partition("-")
    return list(range(int(lo), int(hi or lo) + 1))


class Worker:
    """A worker process fed cases on stdin; it says "start" and "done SECONDS" for each."""

    def __init__(self, threads: int) -> None:
        env = {**os.environ, "MALLOC_CHECK_": "3", "MALLOC_PERTURB_": "165"}
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER, str(threads)], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, bufsize=1)

    def run(self, case: tuple, timeout: float) -> tuple[str, float | str]:
        """("ok", seconds), ("crash", signal name or exit code) or ("hang", seconds waited)."""
        import selectors

        try:
            self.proc.stdin.write(json.dumps(case) + "\n")
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return self._dead()
        sel = selectors.DefaultSelector()
        sel.register(self.proc.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                self.proc.kill()
                self.proc.wait()
                return "hang", timeout
            line = self.proc.stdout.readline()
            if not line:
                return self._dead()
            if line.startswith("done"):
                return "ok", float(line.split()[1])

    def _dead(self) -> tuple[str, str]:
        code = self.proc.wait()
        return "crash", (signal.Signals(-code).name if code < 0 else f"exit {code}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)


def sweep(cases: list[tuple], threads: int, timeout: float) -> list[dict]:
    rows, worker = [], Worker(threads)
    for case in cases:
        state, value = worker.run(case, timeout)
        if state != "ok":  # confirm alone: an earlier case may have left the heap broken
            worker = Worker(threads)
            state, value = worker.run(case, timeout)
            if state != "ok":
                worker = Worker(threads)
        rows.append({"case": case, "state": state, "value": value})
    worker.close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", default="1-16", help="in and out channels, a range (default 1-16)")
    parser.add_argument("--kernels", default="1,3")
    parser.add_argument("--strides", default="1,2")
    parser.add_argument("--formats", default="channels_last,contiguous")
    parser.add_argument("--precisions", default="fp32,bf16")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--size", type=int, default=16, help="input height and width (default 16)")
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds a case may take (default 20)")
    parser.add_argument("--out", help="also write the JSON here")
    args = parser.parse_args(argv)
    import torch

    channels = _range(args.channels)
    cases = [(cin, cout, k, s, f, p, args.batch, args.size, args.steps) for cin, cout, k, s, f, p in itertools.product(
        channels, channels, [int(k) for k in args.kernels.split(",")], [int(s) for s in args.strides.split(",")],
        args.formats.split(","), args.precisions.split(","))]
    start = time.perf_counter()
    rows = sweep(cases, args.threads, args.timeout)
    names = ("in", "out", "kernel", "stride", "format", "precision")
    failing = [{**dict(zip(names, r["case"][:6])), "state": r["state"], "detail": r["value"]}
               for r in rows if r["state"] != "ok"]
    ok = {tuple(r["case"][:6]): r["value"] for r in rows if r["state"] == "ok"}
    speed = {}
    for p in args.precisions.split(","):  # channels-last time / contiguous time, over the shapes where both ran
        pairs = [(t, ok[(c[0], c[1], c[2], c[3], "contiguous", p)]) for c, t in ok.items()
                 if c[4] == "channels_last" and c[5] == p and (c[0], c[1], c[2], c[3], "contiguous", p) in ok]
        if pairs:
            speed[p] = {"channels_last_seconds": round(sum(a for a, _ in pairs), 4),
                        "contiguous_seconds": round(sum(b for _, b in pairs), 4),
                        "ratio": round(sum(a for a, _ in pairs) / sum(b for _, b in pairs), 3)}
    emit({"machine": {"cpu_capability": torch.backends.cpu.get_cpu_capability(), "torch": torch.__version__,
                      "ONEDNN_MAX_CPU_ISA": os.environ.get("ONEDNN_MAX_CPU_ISA", ""),
                      "ATEN_CPU_CAPABILITY": os.environ.get("ATEN_CPU_CAPABILITY", "")},
          "sweep": {"channels": args.channels, "kernels": args.kernels, "strides": args.strides,
                    "formats": args.formats, "precisions": args.precisions, "batch": args.batch,
                    "size": args.size, "steps": args.steps, "threads": args.threads},
          "cases": len(rows), "failed": len(failing), "seconds": round(time.perf_counter() - start, 1),
          "failing": failing, "channels_last_vs_contiguous": speed}, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
