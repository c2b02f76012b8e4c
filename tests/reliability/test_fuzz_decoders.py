"""Atheris (coverage-guided, byte mutations) on the decoders: see fuzz_decoders.py.

libFuzzer ends the process with sys.exit, so it runs in a subprocess, for a fixed number of
inputs (`FUZZ_RUNS`, default 100,000, about 8 s; set it higher for a long campaign) from a
fixed seed, with a dictionary of the contract's field names and of JSON tokens near its limits.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.kafka_support import REPO
from tests.reliability.fuzz_decoders import SEEDS, check

RUNS = int(os.environ.get("FUZZ_RUNS", "100000"))
HERE = Path(__file__).parent


def test_the_seeds_are_valid_records():
    from schemas.decode import DecodeError, decode_label, decode_prediction

    accepted = 0
    for seed in SEEDS:
        check(seed)
        for decode in (decode_prediction, decode_label):
            try:
                decode(seed)
                accepted += 1
            except DecodeError:
                pass
    assert accepted == len(SEEDS)   # each seed is a valid prediction or a valid label


def test_fuzzing_the_decoders_finds_no_crash_and_no_disagreement(tmp_path: Path):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for number, seed in enumerate(SEEDS):
        (corpus / f"seed-{number}").write_bytes(seed)
    result = subprocess.run(
        [sys.executable, str(HERE / "fuzz_decoders.py"), f"-runs={RUNS}", "-seed=1", "-max_len=4096",
         f"-dict={HERE / 'fuzz_decoders.dict'}", f"-artifact_prefix={tmp_path}/", str(corpus)],
        cwd=REPO, capture_output=True, text=True, timeout=900,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert f"Done {RUNS} runs" in result.stderr, result.stderr[-2000:]
    assert not list(tmp_path.glob("crash-*"))
