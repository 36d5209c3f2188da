import pickle

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
