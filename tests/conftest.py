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
    return home
