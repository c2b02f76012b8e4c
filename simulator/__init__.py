"""Traffic simulator: realistic prediction and label streams for slo-monitor, with scenarios.

Generation (model, scenarios, streams) is pure Python + numpy and deterministic given a seed;
writers (kafka_writer, jsonl_writer) and the CLI (cli) sit on top. Start with
`TrafficGenerator(build_scenario("precision_drop"), start=..., duration=..., rate_per_hour=...)`
and iterate `.events()`.
"""

from simulator.model import Behaviour, Population
from simulator.scenarios import SCENARIOS, Change, Rollout, Scenario, build_scenario
from simulator.streams import TrafficGenerator, merge_events

__all__ = ["Behaviour", "Population", "SCENARIOS", "Change", "Rollout", "Scenario", "build_scenario",
           "TrafficGenerator", "merge_events"]
