import os

import pytest
import torch

torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))


@pytest.fixture
def write_yaml(tmp_path):
    """Write text to a YAML file in tmp_path and return its path as a string."""
    def write(text: str, name: str = "net.yaml") -> str:
        p = tmp_path / name
        p.write_text(text)
        return str(p)
    return write
