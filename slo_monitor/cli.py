"""`slo-monitor`: the command line of CONTRACT.md (validate, run, simulate, demo), with respond,
remediate and demo-model beside it.

Each subcommand imports its subsystem only when it runs, so `validate` answers at once and
never needs Kafka or Bytewax.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from flows.settings import DEFAULT_BOOTSTRAP


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv  # for commands that start copies of themselves (run --processes)
    if not hasattr(args, "handler"):
        parser.print_help(sys.stderr)
        return 2
    return args.handler(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slo-monitor",
        description="Streaming SLO monitor for ML models: precision and recall from delayed, "
        "sampled human-review labels, on Kafka.",
    )
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    validate = commands.add_parser("validate", help="check an SLO file; exit 0 if valid")
    validate.add_argument("file", help="SLO file (YAML)")
    validate.set_defaults(handler=_validate)

    run = commands.add_parser("run", help="run the monitor until SIGTERM or SIGINT")
    from slo_monitor.run import add_run_arguments

    add_run_arguments(run, _bootstrap_default())
    run.set_defaults(handler=_run)

    respond = commands.add_parser("respond", help="page PagerDuty from slo-alerts (also part of `run`)")
    from remediation.responder_cli import add_arguments as add_respond_arguments

    add_respond_arguments(respond)
    respond.set_defaults(handler=_respond)

    remediate = commands.add_parser("remediate", help="run remediation playbooks from slo-alerts (also part of `run`)")
    from remediation.executor_cli import add_arguments as add_remediate_arguments

    add_remediate_arguments(remediate)
    remediate.set_defaults(handler=_remediate)

    simulate = commands.add_parser("simulate", help="produce realistic prediction and label traffic")
    from simulator.cli import add_arguments as add_simulate_arguments

    add_simulate_arguments(simulate)
    simulate.set_defaults(handler=_simulate)

    demo = commands.add_parser("demo", help="the whole main job on this machine, end to end")
    add_demo_arguments(demo, _bootstrap_default())
    demo.set_defaults(handler=_demo)

    demo_model = commands.add_parser(
        "demo-model", help="register the demo's model in an MLflow registry (Docker Compose's demo profile)",
        description="Register the demo's model: version 1 healthy, version 2 the bad release, alias champion "
                    "-> 2, so a rollback has somewhere to go. Safe to run again: it adds what is missing and "
                    "sets the alias back; a model of that name it did not register is left alone (exit 1).")
    demo_model.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                            help="the MLflow tracking server (default: $MLFLOW_TRACKING_URI)")
    demo_model.add_argument("--model-id", default="fraud-detector",
                            help="the registered model's name: the traffic's model_id (default: fraud-detector)")
    demo_model.set_defaults(handler=_demo_model)
    return parser


def add_demo_arguments(demo: argparse.ArgumentParser, bootstrap_default: str) -> None:
    demo.add_argument("--bootstrap-servers", default=bootstrap_default)
    demo.add_argument("--hours", type=float, default=8.0, help="event time to simulate (default 8)")
    demo.add_argument("--change-at", type=float, help="hour at which the bad version takes over (default: half way, at most 4)")
    demo.add_argument("--speed", type=float, default=360.0,
                      help="event time runs this many times as fast as the wall clock (default 360: an hour in 10 s)")
    demo.add_argument("--workdir", type=Path, default=Path(".run") / "demo",
                      help="MLflow database and reports of each run (default .run/demo)")
    demo.add_argument("--status-port", type=int, default=0, help="status page port (default: any free port)")
    demo.add_argument("--stay", action="store_true", help="keep the status page up after the summary until Ctrl-C")


def _bootstrap_default() -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)


def _validate(args: argparse.Namespace) -> int:
    from slo.spec import SloSpecError, load_slo_file

    try:
        slo_file = load_slo_file(args.file)
    except SloSpecError as error:
        print(f"invalid: {error}", file=sys.stderr)
        return 1
    names = ", ".join(slo.name for slo in slo_file.slos)
    print(f"valid: {len(slo_file.slos)} SLO(s): {names}")
    return 0


def _run(args: argparse.Namespace) -> int:
    from slo_monitor.run import run_monitor

    return run_monitor(args)


def _respond(args: argparse.Namespace) -> int:
    from remediation.responder_cli import run as run_responder

    return run_responder(args)


def _remediate(args: argparse.Namespace) -> int:
    from remediation.executor_cli import run as run_executor

    return run_executor(args)


def _simulate(args: argparse.Namespace) -> int:
    from simulator.cli import run as run_simulation

    return run_simulation(args)


def _demo(args: argparse.Namespace) -> int:
    from slo_monitor.demo import run_demo

    return run_demo(args)


def _demo_model(args: argparse.Namespace) -> int:
    from mlflow.exceptions import MlflowException

    from flows.secret_files import SecretFileError
    from remediation.model_registry import cap_client_retries, load_credential_files
    from slo_monitor.local_mlflow import DEMO_CHAMPION, DEMO_VERSIONS, NotTheDemoModel, register_demo_model

    if not args.tracking_uri:
        print("demo-model: no registry: set MLFLOW_TRACKING_URI or pass --tracking-uri", file=sys.stderr)
        return 2
    cap_client_retries()   # seconds, not MLflow's four minutes of retries, when the registry is not there
    try:
        load_credential_files()
        register_demo_model(args.tracking_uri, args.model_id)
    except SecretFileError as error:
        print(f"demo-model: {error}", file=sys.stderr)
        return 2
    except (NotTheDemoModel, MlflowException) as error:
        print(f"demo-model: {error}", file=sys.stderr)
        return 1
    versions = ", ".join(f"{number} ({description})" for number, description in enumerate(DEMO_VERSIONS, 1))
    print(f"demo-model: {args.tracking_uri}: {args.model_id} versions {versions}; alias champion -> {DEMO_CHAMPION}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
