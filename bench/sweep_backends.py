"""The same sweep on local processes and on a local Ray cluster: wall time, and whether they stored the same.

    python bench/sweep_backends.py [--depths 8,14] [--seeds 0-1] [--steps 30] [--width 4] [--cpus 2] [--out r.json]

Each backend gets a fresh run store (so both train everything); every run has one torch thread. Ray is
started here with ``--cpus`` CPUs, as RESNET_VIZ_RAY=auto starts one (cluster start-up not counted:
it is paid once per server). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resnet_viz import sweep  # noqa: E402
from resnet_viz.backends import LocalBackend, RayBackend, connect  # noqa: E402
from resnet_viz.cli import _int_list  # noqa: E402
from resnet_viz.experiments import degradation as deg  # noqa: E402
from resnet_viz.protocol import make  # noqa: E402
from resnet_viz.store import RunStore  # noqa: E402

from common import emit  # noqa: E402


def stored(store: RunStore, spec) -> dict:
    out = {}
    for u in sweep.units(deg.EXPERIMENT, spec):
        result = store.get(u.kind, u.spec).result
        out[store.key(u.kind, u.spec)] = [{k: v for k, v in r.items() if k != "seconds"} for r in result["runs"]]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--depths", default="8,14")
    parser.add_argument("--seeds", default="0-1")
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--width", type=int, default=4)
    parser.add_argument("--cpus", type=int, default=2)
    parser.add_argument("--out")
    args = parser.parse_args()
    spec = make(deg.Spec, depths=_int_list(args.depths), seeds=_int_list(args.seeds), width=args.width,
                steps=args.steps, batch_size=32, eval_every=0, device="cpu")
    rows, results = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("local", "ray"):
            if name == "ray":
                import os

                os.environ["RESNET_VIZ_RAY_CPUS"] = str(args.cpus)
                started = time.perf_counter()
                connect("local")
                rows["ray_start_seconds"] = round(time.perf_counter() - started, 2)
            backend = LocalBackend(args.cpus, threads=1) if name == "local" else RayBackend("auto", threads=1)
            store = RunStore(Path(tmp) / name)
            result = sweep.run(deg.EXPERIMENT, spec, store, backend)
            rows[name] = {"seconds": result["seconds"], "runs": result["ran"], "status": result["status"]}
            results[name] = stored(store, spec)
            print(f"{name}: {result['seconds']:.1f} s for {result['ran']} runs", file=sys.stderr)
    emit({"sweep": {"depths": list(spec.depths), "seeds": list(spec.seeds), "steps": args.steps, "width": args.width,
                    "runs": len(sweep.units(deg.EXPERIMENT, spec)), "cpus": args.cpus},
          **rows, "same_stored_results": json.dumps(results["local"], sort_keys=True) ==
          json.dumps(results["ray"], sort_keys=True)}, args.out)


if __name__ == "__main__":
    main()
