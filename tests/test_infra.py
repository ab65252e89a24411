"""The cluster recipes of infra/: valid for the tools that read them."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import tomllib
from pathlib import Path

import jsonschema
import pytest
import ray
import yaml

INFRA = Path(__file__).resolve().parents[1] / "infra"


def ray_schema() -> dict:
    return json.loads((Path(ray.__file__).parent / "autoscaler" / "ray-schema.json").read_text())


def test_ray_cluster_yaml_validates_against_rays_own_schema():
    cfg = yaml.safe_load((INFRA / "ray" / "gcp-gpu.yaml").read_text())
    jsonschema.validate(cfg, ray_schema())
    gpu = cfg["available_node_types"]["gpu_a100x8"]
    assert gpu["resources"]["GPU"] == gpu["node_config"]["guestAccelerators"][0]["acceleratorCount"]
    assert cfg["head_node_type"] in cfg["available_node_types"]
    # the schema really checks: a broken copy fails
    broken = copy.deepcopy(cfg)
    broken["available_node_types"]["gpu_a100x8"]["max_workers"] = "many"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, ray_schema())


def _containers(pod_template: dict) -> list[dict]:
    return pod_template["spec"]["containers"]


@pytest.mark.parametrize("name", ["raycluster.yaml", "rayjob.yaml"])
def test_kuberay_manifests_are_well_formed(name):
    doc = yaml.safe_load((INFRA / "k8s" / name).read_text())
    assert doc["apiVersion"] == "ray.io/v1"
    spec = doc["spec"] if doc["kind"] == "RayCluster" else doc["spec"]["rayClusterSpec"]
    assert doc["kind"] in ("RayCluster", "RayJob")
    assert spec["rayVersion"] == ray.__version__
    images = {c["image"] for c in _containers(spec["headGroupSpec"]["template"])}
    for group in spec["workerGroupSpecs"]:
        assert group["minReplicas"] <= group["replicas"] <= group["maxReplicas"]
        for c in _containers(group["template"]):
            images.add(c["image"])
            res = c["resources"]
            assert res["requests"]["nvidia.com/gpu"] == res["limits"]["nvidia.com/gpu"]
    assert len(images) == 1  # one image for head and workers
    if doc["kind"] == "RayJob":
        assert doc["spec"]["entrypoint"].startswith("python -m train.pretrain ")


def test_dockerfile_installs_every_package_and_ffmpeg():
    text = (INFRA / "docker" / "Dockerfile").read_text()
    pyproject = tomllib.loads((INFRA.parent / "pyproject.toml").read_text())
    packages = [
        p.rstrip("*") for p in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    ]
    assert "pipeline" in packages and "train" in packages
    for pkg in packages:  # what `pip install .` in the image installs
        assert re.search(rf"^COPY {pkg} ", text, re.M), pkg
    assert "ffmpeg" in text and "/opt/apache/beam/boot" in text


def test_launch_script_refuses_an_unknown_runner():
    res = subprocess.run(
        ["bash", str(INFRA / "dataflow" / "launch.sh"), "nope", "in", "out"],
        env={"IMAGE": "x", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "unknown runner" in res.stderr
