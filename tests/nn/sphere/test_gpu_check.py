"""bench/gpu_check.py skips every CUDA part cleanly (exit status 0) on a machine without CUDA."""
import os
import subprocess
import sys

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


@pytest.mark.skipif(torch.cuda.is_available(), reason="the skip path needs a machine without CUDA")
def test_gpu_check_skips_without_cuda():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "bench", "gpu_check.py")], capture_output=True, text=True,
                       timeout=120, env=dict(os.environ, CUDA_VISIBLE_DEVICES=""))
    assert r.returncode == 0 and "skipped" in r.stdout
