import pickle
import re

import numpy as np
import pytest
import torch

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def lab_home(tmp_path, monkeypatch):
    """Every test gets its own RESNET_VIZ_HOME: the user's cache is never touched."""
    home = tmp_path / "home"
    monkeypatch.setenv("RESNET_VIZ_HOME", str(home))
    monkeypatch.delenv("RESNET_VIZ_DATA", raising=False)
    monkeypatch.delenv("RESNET_VIZ_DOWNLOAD", raising=False)
    monkeypatch.delenv("RESNET_VIZ_RAY", raising=False)
    # no test reaches the internet: the CIFAR-10 server is a closed local port unless a test serves one
    monkeypatch.setenv("RESNET_VIZ_CIFAR10_URL", "http://127.0.0.1:9/cifar-10-python.tar.gz")
    return home


@pytest.fixture(autouse=True)
def no_background_calibration(request, monkeypatch):
    """A page's job manager first measures the host's training speed in a worker process (seconds to
    minutes of CPU, running on into the next tests); only the tests marked ``calibrates`` let it."""
    if "calibrates" not in request.keywords:
        from resnet_viz.jobs import JobManager

        monkeypatch.setattr(JobManager, "_calibrate", lambda self: None)


def _cifar_archive(tmp_path):
    """A tiny CIFAR-10 archive in the official layout (cifar-10-batches-py/...), as tar.gz bytes."""
    import io
    import tarfile

    src = tmp_path / "src" / "cifar-10-batches-py"
    src.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, name in enumerate([f"data_batch_{k}" for k in range(1, 6)] + ["test_batch"]):
        (src / name).write_bytes(pickle.dumps({"data": rng.integers(0, 256, (2, 3072), dtype=np.uint8),
                                               "labels": [i % 10, (i + 1) % 10]}))
    (src / "batches.meta").write_bytes(pickle.dumps({"label_names": [str(i) for i in range(10)]}))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(src, arcname="cifar-10-batches-py")
    return buffer.getvalue()


@pytest.fixture
def served(tmp_path):
    """A local HTTP server (the tests never download from the internet) serving one archive."""
    import http.server
    import threading

    payload = {"data": _cifar_archive(tmp_path)}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload["data"])))
            self.end_headers()
            self.wfile.write(payload["data"])

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/cifar-10-python.tar.gz", payload
    server.shutdown()


# --- shared helpers of the page tests (AppTest) --------------------------------------------------------

ROOT = __import__("pathlib").Path(__file__).resolve().parents[1]


def app(path: str, **params: str):
    """A page under Streamlit's AppTest, with link parameters (``lang="zh"``, ``depths="20,32"``)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / path), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    return at


def by_label(widgets, label: str):
    """The widget with this label (its English text, or the session's language)."""
    return next(w for w in widgets if w.label == label)


def wait_for_job(job=None, seconds: float = 180) -> None:
    """Wait for a page's background job (default: the newest of the test's job manager) to end done."""
    import time

    if job is None:
        from resnet_viz.ui.jobs import job_manager

        job = job_manager().jobs()[0]
    deadline = time.time() + seconds
    while job.state in ("queued", "running") and time.time() < deadline:
        time.sleep(0.2)
    assert job.state == "done", job.error


def number(text: str) -> float:
    """A number as the pages write it ("1,194", "0.292", "7.45 × 10⁻⁹") back as a float."""
    text = text.replace(",", "").strip()
    if "×" not in text:
        return float(text)
    mantissa, power = text.split("×")
    exponent = power.strip().removeprefix("10").translate(str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789"))
    return float(mantissa) * 10 ** int(exponent)


# --- English left in a Chinese page ---------------------------------------------------------------------

# Latin words a Chinese page may show: names (of nets, people, libraries, datasets, methods), units and
# symbols. Code (commands, file names) sits in code elements and formulas in KaTeX: both are skipped.
NAMES = {
    "resnet", "resnets", "vgg", "lenet", "alexnet", "googlenet", "inception", "highway", "captum", "gradcam",
    "cifar", "mnist", "fashion", "imagenet", "torchvision", "pytorch", "torch", "py", "jupyter", "streamlit", "tensorboard", "cuda", "cpu",
    "gpu", "mps", "ray", "sgd", "relu", "sigmoid", "tanh", "softmax", "he", "zhang", "ren", "sun", "veit", "wilber",
    "belongie", "li", "xu", "taylor", "studer", "goldstein", "huang", "srivastava", "goodfellow", "vinyals", "saxe",
    "garipov", "simonyan", "zisserman", "lecun", "krizhevsky", "szegedy", "kaiming", "xavier", "glorot", "et", "al",
    "fp", "bf", "amx", "top", "imagenet1k", "v1", "nvidia", "hbm3", "px", "ms", "mb", "gb", "min", "max", "log",
    "log10", "exp", "dl", "dw", "dx", "dh", "df", "fc", "ln", "english", "language", "lang", "b_g", "p_l", "csv",
    "zip", "float", "float32", "float64", "conv", "rbf", "ilsvrc", "flops", "densenet", "ioffe", "sutskever",
    "hinton", "vanhoucke", "alemi", "cover", "thomas", "bottou", "bengio", "haffner", "ii",
}
# papers are cited by their own titles (not translated, as Chinese texts cite them)
TITLES = ["Deep Residual Learning for Image Recognition", "Identity Mappings in Deep Residual Networks",
          "Identity Mappings", "Residual Networks Behave Like Ensembles of Relatively Shallow Networks",
          "Visualizing the Loss Landscape of Neural Nets", "Batch Normalization", "Delving Deep into Rectifiers",
          "One weird trick", "d2l-zh", "resnet-viz"]
# a published number's source is shown as the paper names it (titles are not translated)
def _sources() -> list[str]:
    from resnet_viz.experiments import EXPERIMENTS
    from resnet_viz.lineage import ERROR_SOURCE, HE_TABLE2, HE_TABLE3
    from resnet_viz.ui.lessons.misconceptions import GLOSSARY

    glossary = [word for row in GLOSSARY for word in (row[0], *row[2].split(", "))]  # the English terms, on purpose
    return ([e.published.source for e in EXPERIMENTS.values() if e.published] + [ERROR_SOURCE, HE_TABLE2.source,
            HE_TABLE3.source] + sorted(glossary, key=len, reverse=True))
NAME_PATTERNS = [r"\b(?:plain|ResNet)-\d+\b", r"RESNET_VIZ_\w+", r"https?://\S+", r"\w+\.(?:py|json|csv|zip)\b",
                 r"%\{[^}]*\}", r"<[^>]+>", r"\b\d+x\d+\b", r"\b[A-Za-z]\d*\b"]

def english_words(texts: list[str]) -> list[str]:
    """The Latin words in ``texts`` that are not names, units or symbols."""
    left = []
    for text in texts:
        for source in _sources() + TITLES:
            text = text.replace(source, " ")
        for pattern in NAME_PATTERNS:
            text = re.sub(pattern, " ", text)
        left += [w for w in re.findall(r"[A-Za-z][A-Za-z'_]+", text) if w.lower() not in NAMES]
    return sorted(set(left))


