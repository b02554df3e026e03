"""timerft: RL post-training for temporal video grounding as a DVC + Prefect pipeline."""

import os

# The same CPU kernels on every x86_64 host: torch, MKL and oneDNN otherwise pick AVX-512 or AVX2 code by the
# CPU, which sums in another order (tests/test_cpu_isa.py), and rounding differences grow through sampling and
# training into other figures. Read at their first use, so setting them here, before any tensor op, is enough;
# an exported value wins (e.g. `ATEN_CPU_CAPABILITY=avx512`, to trade reproducibility for speed).
for _name, _value in {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2,STRICT", "ONEDNN_MAX_CPU_ISA": "AVX2"}.items():
    os.environ.setdefault(_name, _value)

__version__ = "0.1.0"
