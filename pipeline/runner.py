"""Running a Beam pipeline: the options (the in-process DirectRunner on every core by default,
any runner by its own flags) and the counters the runner reports."""

from __future__ import annotations

import os

from apache_beam.metrics.metric import MetricsFilter
from apache_beam.options.pipeline_options import PipelineOptions
from apache_beam.runners.runner import PipelineResult


def beam_options(beam_args: list[str]) -> PipelineOptions:
    """Beam options as given; locally the in-process DirectRunner on every core by default."""
    args = list(beam_args)
    if not any(a.startswith("--runner") for a in args):
        args.append("--runner=DirectRunner")
    runner = next(a for a in args if a.startswith("--runner")).split("=", 1)[-1]
    if runner in ("DirectRunner", "--runner") and not any(
        a.startswith("--direct_running_mode") for a in args
    ):
        args.append("--direct_running_mode=multi_processing")
    if not any(a.startswith("--direct_num_workers") for a in args):
        args.append(f"--direct_num_workers={os.cpu_count() or 1}")
    if not any(a.startswith("--default_sdk_harness_log_level") for a in args):
        args.append("--default_sdk_harness_log_level=WARNING")
    return PipelineOptions(args)


def counters(result: PipelineResult, namespace: str) -> dict[str, int]:
    """The counters of `namespace` a finished pipeline reports, summed over steps."""
    out: dict[str, int] = {}
    for c in result.metrics().query(MetricsFilter().with_namespace(namespace))["counters"]:
        out[c.key.metric.name] = out.get(c.key.metric.name, 0) + _counter_value(c)
    return out


def _counter_value(c) -> int:
    # runners differ: the portable runner reports committed values only, others attempted too
    for value in (c.committed, c.attempted):
        if value is not None:
            return int(value)
    return 0
