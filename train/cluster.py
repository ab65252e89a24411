"""Which Ray to run on: the cluster in RAY_ADDRESS (`ray job submit`, a cluster's head), or a
small local one started here and torn down without leftovers."""

from __future__ import annotations

import logging
import os
import secrets

import psutil
import ray

logger = logging.getLogger(__name__)

# Local-only defaults (a user's own setting wins): a laptop has no preemptible nodes, so Ray
# Train's preemption watcher only costs a polling process; and a loaded 2-core machine can take
# longer than the default 60 s to start a worker group.
LOCAL_TRAIN_ENV = {
    "RAY_TRAIN_ENABLE_PREEMPTION_WATCHER": "0",
    "RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S": "300",
}


def quiet_worker_logs() -> None:
    """Ray worker setup hook for a dashboard-less local cluster: without the dashboard the
    state API is down, which Ray Train's placement-group cleaner would report every 2 s."""
    logging.getLogger(
        "ray.train.v2._internal.execution.controller.placement_group_cleaner"
    ).setLevel(logging.ERROR)


class NoGpuError(ValueError):
    """--use-gpu on a cluster that has no GPU and cannot get one."""


def use_session_token() -> None:
    """The local cluster's token auth with a token of this run only, kept in the environment
    (Ray's processes inherit it), unless the user set up auth: Ray's default generates
    ~/.ray/auth_token, after which every later `ray start --head` on the machine requires it
    (see README), and announces it in a WARNING banner."""
    if any(os.environ.get(v) for v in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")):
        return
    os.environ["RAY_AUTH_TOKEN"] = secrets.token_hex(32)
    # Ray still enables token mode by default; its banner would only say that
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(
        logging.ERROR
    )


def require_gpus(workers: int, local: bool) -> None:
    """With --use-gpu: NoGpuError when a local Ray (started here) has fewer GPUs than
    workers; on an attached cluster, only a warning (its autoscaler may add GPU nodes)."""
    have = int(ray.cluster_resources().get("GPU", 0))
    if have >= workers:
        return
    if local:
        raise NoGpuError(
            f"--use-gpu: this machine's Ray has {have} GPU(s) for {workers} worker(s); "
            "drop --use-gpu, or attach to a cluster with GPUs (RAY_ADDRESS)"
        )
    logger.warning(
        "--use-gpu: the cluster has %d GPU(s) for %d worker(s) now; training starts when its "
        "autoscaler adds them (Ray repeats 'No available node types can fulfill' until then)",
        have,
        workers,
    )


def connect(cpus: int) -> bool:
    """Attach to RAY_ADDRESS's cluster, else start a local one with `cpus` CPUs and no dashboard
    (it costs ~1 GB and seconds to start). True when this call started a local Ray."""
    if ray.is_initialized():
        return False
    if os.environ.get("RAY_ADDRESS"):
        ray.init()
        return False
    for name, value in LOCAL_TRAIN_ENV.items():
        os.environ.setdefault(name, value)
    use_session_token()
    ray.init(
        num_cpus=max(cpus, os.cpu_count() or 1),
        include_dashboard=False,
        runtime_env={"worker_process_setup_hook": "train.cluster.quiet_worker_logs"},
    )
    return True


def shutdown_local(timeout_s: float = 15.0) -> None:
    """ray.shutdown() of a Ray this process started, then end any of its processes still
    running (a detached Ray Train helper can outlive the raylet and spin)."""
    ours = psutil.Process().children(recursive=True)
    ray.shutdown()
    _, alive = psutil.wait_procs(ours, timeout=timeout_s)
    for proc in alive:
        logger.info("ending leftover Ray process %d", proc.pid)
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            continue
    psutil.wait_procs(alive, timeout=5)
