"""timerft pins the CPU kernels' instruction set (src/timerft/__init__.py), so every x86_64 host sums alike."""

import os
import subprocess
import sys

import pytest

PROBE = ("import timerft, torch, os; torch.ones(2) @ torch.ones(2); "
         "print(torch.backends.cpu.get_cpu_capability(), os.environ['MKL_CBWR'], os.environ['ONEDNN_MAX_CPU_ISA'])")


def probe(**env: str) -> str:
    clean = {k: v for k, v in os.environ.items() if k not in ("ATEN_CPU_CAPABILITY", "MKL_CBWR", "ONEDNN_MAX_CPU_ISA")}
    result = subprocess.run([sys.executable, "-c", PROBE], env={**clean, **env}, capture_output=True, text=True,
                            check=True)
    return result.stdout.strip()


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the pin names x86_64 instruction sets")
def test_importing_timerft_pins_avx2_kernels():
    assert probe() == "AVX2 AVX2,STRICT AVX2"


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the pin names x86_64 instruction sets")
def test_an_exported_choice_wins():
    assert probe(ATEN_CPU_CAPABILITY="default", MKL_CBWR="COMPATIBLE").split() == ["DEFAULT", "COMPATIBLE", "AVX2"]
