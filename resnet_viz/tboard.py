"""Runs as TensorBoard event files, so results open in the tool people already use.

``write(result, spec, folder)`` writes one sub-folder per run of an experiment's result (named like
``plain-56_seed0``) with TensorBoard's own writer (``torch.utils.tensorboard.SummaryWriter``):

- ``loss/train``, ``error/train`` (the mini-batch's, in train mode) and ``error/test`` (whole test split,
  at checkpoints) per step, from the run's history;
- ``lr`` per step: the learning rate of the recipe (``train.lr`` x the schedule's factor);
- ``gradient_norm/<layer>`` at each probe step (the gradient-flow experiment);
- ``final/train_error``, ``final/test_error`` (whole splits, eval mode) at the last step;
- the run's settings as text (``settings``).

Open them with ``tensorboard --logdir FOLDER``. The CLI writes them with ``--tensorboard DIR``; the pages
offer them as a zip (:func:`zipped`).
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any


def _writer(folder: Path):
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # torch's writer needs the tensorboard package
        raise ValueError("writing TensorBoard files needs the tensorboard package: pip install tensorboard") from None
    return SummaryWriter(log_dir=str(folder))


def run_name(run: dict) -> str:
    """A folder name for one run: "plain-56_seed0", "ResNet-20 (scaling)", ... (safe characters only)."""
    from .protocol import run_name as net_name

    if "variant" in run and "depth" in run and run["variant"] in ("plain", "residual", "stochastic_depth"):
        name = net_name(run["variant"], run["depth"])
    else:
        name = str(run.get("label") or run.get("name") or "run")
    if run.get("seed") is not None:
        name += f"_seed{run['seed']}"
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("_")


def _runs(result: dict) -> list[dict]:
    return result["runs"] if isinstance(result.get("runs"), list) else [result]


def _learning_rates(spec: Any, steps: list[int]) -> list[float] | None:
    train = getattr(spec, "train", None)
    if train is None:
        return None
    from .train import lr_factor

    return [train.lr * lr_factor(train.schedule, step - 1, train.steps) for step in steps]


def write(result: dict, spec: Any, folder: str | Path) -> list[Path]:
    """Write every run of ``result`` (made with ``spec``) as TensorBoard event files under ``folder``.

    Returns:
        The run folders written.

    Raises:
        ValueError: the tensorboard package is missing, or the folder cannot be written.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"--tensorboard {folder} cannot be written ({exc.strerror or exc})") from None
    written, seen = [], set()
    settings = json.dumps(dataclasses.asdict(spec) if dataclasses.is_dataclass(spec) else {}, indent=1)
    for run in _runs(result):
        name = run_name(run)
        while name in seen:  # two runs with the same name (e.g. two shortcut kinds at one depth)
            name += "_"
        seen.add(name)
        writer = _writer(folder / name)
        try:
            history = run.get("history") or []
            steps = [h["step"] for h in history]
            rates = ([h["lr"] for h in history] if history and all("lr" in h for h in history)
                     else _learning_rates(spec, steps))
            for i, h in enumerate(history):
                step = h["step"]
                if h.get("train_loss") is not None:
                    writer.add_scalar("loss/train", h["train_loss"], step)
                if h.get("train_error") is not None:
                    writer.add_scalar("error/train", h["train_error"], step)
                if h.get("test_error") is not None:
                    writer.add_scalar("error/test", h["test_error"], step)
                if rates:
                    writer.add_scalar("lr", rates[i], step)
            checkpoints = run.get("checkpoints") or {}
            for step, norms in zip(checkpoints.get("steps", []), checkpoints.get("grad_norms", [])):
                for layer, value in zip(checkpoints.get("layer_names", []), norms):
                    writer.add_scalar(f"gradient_norm/{layer}", value, step)
            last = steps[-1] if steps else 0
            for what in ("train_error", "test_error"):
                if run.get(f"final_{what}") is not None:
                    writer.add_scalar(f"final/{what}", run[f"final_{what}"], last)
            writer.add_text("settings", f"```\n{settings}\n```", 0)
        finally:
            writer.close()
        written.append(folder / name)
    return written


def zipped(result: dict, spec: Any, top: str = "runs") -> bytes:
    """The event files of :func:`write` as one zip (``top/<run>/events.out.tfevents...``), for a download."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="resnet-viz-tb-") as tmp:
        write(result, spec, Path(tmp) / top)
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(Path(tmp).rglob("*")):
                if path.is_file():
                    zf.write(path, path.relative_to(tmp).as_posix())
    return buffer.getvalue()


__all__ = ["run_name", "write", "zipped"]
