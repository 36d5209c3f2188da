"""The server's own torch work while a job trains beside it, with 1 thread vs all. Prints JSON.

    python bench/server_threads.py [--repeats 5] [--out results.json]

Starts a training job the way the server does (its own process, RESNET_VIZ_JOB_THREADS threads, nice
10: the degradation preset through the CLI), then times what the pages compute in the server process
(the float64 gradient probe of plain-56 and ResNet-56 at initialization, one lesion evaluation of the
shipped ResNet-56, Integrated Gradients of one image), first with torch's default thread count (one per
core), then with the policy the server sets once at start (resnet_viz.host.server_threads), and the
same with no job running.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import emit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def workload():

    import torch
    from safetensors.torch import load_file

    from resnet_viz import attribution
    from resnet_viz.data import load_dataset
    from resnet_viz.experiments import gradients as gf
    from resnet_viz.experiments import lesion as les
    from resnet_viz.lesion import accuracy_without

    spec = gf.Spec()
    sub = les.training_runs(les.EXPERIMENT.presets[0].spec)[1]
    model = les.trained_model(sub, load_file(ROOT / "assets" / "lesion_preset" / "residual.safetensors"))
    data = load_dataset(sub.data)
    gf.at_init(spec)  # warm
    tasks = {"gradient probe at init (plain-56 + ResNet-56, float64)": lambda: gf.at_init(spec),
             "lesion: ResNet-56 without block 13 on 450 test images": lambda: accuracy_without(model, data.test_x,
                                                                                              data.test_y, [13]),
             "Integrated Gradients of one image (ResNet-56)": lambda: attribution.integrated_gradients(
                 model, data.test_x[:1], int(data.test_y[0]))}
    return torch, tasks


def time_all(tasks: dict, repeats: int) -> dict:
    out = {}
    for name, fn in tasks.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        out[name] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out")
    args = parser.parse_args()
    from resnet_viz.host import job_threads, server_threads

    torch, tasks = workload()
    all_threads = os.cpu_count() or 1
    report = {"cores": all_threads, "job_threads": job_threads(), "server_threads": server_threads(), "runs": []}
    for job in (False, True):
        proc = None
        if job:
            env = {**os.environ, "RESNET_VIZ_HOME": tempfile.mkdtemp(), "OMP_NUM_THREADS": str(job_threads())}
            proc = subprocess.Popen(["nice", "-n", "10", sys.executable, "-m", "resnet_viz", "degradation", "--steps",
                                     "2000", "--depths", "56", "--width", "16"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(8)  # the job loads and starts training
        try:
            for threads in (all_threads, server_threads()):
                torch.set_num_threads(threads)
                report["runs"].append({"job_training": job, "server_torch_threads": threads,
                                       "tasks": time_all(tasks, args.repeats)})
                print(report["runs"][-1], file=sys.stderr, flush=True)
        finally:
            if proc is not None:
                proc.kill()
    emit(report, args.out)


if __name__ == "__main__":
    main()
