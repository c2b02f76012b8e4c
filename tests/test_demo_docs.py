"""The README's SLO file reference is a valid SLO file (it is what users copy)."""

from __future__ import annotations

import re

from slo.spec import load_slo_file
from tests.kafka_support import REPO


def test_readme_slo_reference_validates(tmp_path):
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## SLO file reference"):]
    block = re.search(r"```yaml\n(.*?)```", section, re.S).group(1)
    path = tmp_path / "reference.yaml"
    path.write_text(block)
    slo = load_slo_file(path).slos[0]
    assert slo.segments == ("country",) and slo.alerting.sequential is not None and slo.compliance is not None
