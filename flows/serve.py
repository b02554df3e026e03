"""Serve the deployments from this process (no work pool needed): `timerft-pipeline/nightly` on a cron schedule
and `timerft-experiments/on-demand` to start from the UI or `prefect deployment run`. Needs PREFECT_API_URL
pointing at a running `prefect server start`; stop with Ctrl-C (the schedule is paused when it stops).

    PREFECT_API_URL=http://127.0.0.1:4200/api python flows/serve.py --cron '0 3 * * *'
"""

from __future__ import annotations

import argparse

from prefect import serve
from prefect.schedules import Cron

from experiments import experiments
from pipeline import pipeline


def deployments(cron: str = "0 3 * * *", timezone: str = "UTC", workspace: str | None = None) -> list:
    defaults = {"workspace": workspace} if workspace else {}
    nightly = pipeline.to_deployment(name="nightly", schedule=Cron(cron, timezone=timezone), parameters=defaults,
                                     description="The DVC pipeline, stage by stage (flows/pipeline.py).")
    on_demand = experiments.to_deployment(name="on-demand", parameters=defaults,
                                          description="DVC experiments from override sets (flows/experiments.py).")
    return [nightly, on_demand]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cron", default="0 3 * * *", help="schedule of the pipeline (default: 03:00 every day)")
    parser.add_argument("--timezone", default="UTC", help="time zone of the cron schedule (default UTC)")
    parser.add_argument("--workspace", help="DVC project folder the runs use (default: this repository)")
    args = parser.parse_args()
    serve(*deployments(args.cron, args.timezone, args.workspace), limit=1)  # one run at a time: one DVC workspace


if __name__ == "__main__":
    main()
