"""A made-up experiment whose job dies or hangs on purpose, for the fault tests (tests/test_crashes.py).

It is registered when this module is imported: in the test process, and in a spawned job process, which
imports it when it unpickles the spec it is sent.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from resnet_viz import experiments
from resnet_viz.config import DataConfig, nested, setting, validate
from resnet_viz.protocol import Context, Experiment, Outcome


@dataclass(frozen=True)
class FaultSpec:
    """What the job does after its first progress record: abort (SIGABRT, as oneDNN's broken kernels did),
    hang (never report again) or finish."""

    fault: str = setting("abort", "what the job does", choices=("abort", "hang", "finish"))
    token: int = setting(0, "makes specs distinct", low=0, high=10**9)
    data: DataConfig = nested(DataConfig, expose=())

    def __post_init__(self) -> None:
        validate(self)


def _run(spec: FaultSpec, ctx: Context | None = None) -> Outcome:
    ctx = ctx or Context()
    ctx.report({"done": 1, "total": 3, "fraction": 1 / 3})
    if spec.fault == "abort":
        os.abort()
    if spec.fault == "hang":
        while True:
            time.sleep(1)
    ctx.report({"done": 3, "total": 3, "fraction": 1.0})
    return Outcome({"status": "completed", "fault": spec.fault})


FAULTY = experiments.register(Experiment(
    name="faulty", help="a made-up job that aborts or hangs (tests only)", Spec=FaultSpec, run=_run,
    cost=lambda spec: 1.0, training_runs=lambda spec: [], summary=lambda spec, outcome: spec.fault))
