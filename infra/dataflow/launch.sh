#!/usr/bin/env bash
# Build the shards on a Beam runner past one machine.
#   infra/dataflow/launch.sh dataflow INPUT OUTPUT [extra pipeline options]
#   infra/dataflow/launch.sh flink    INPUT OUTPUT [extra pipeline options]
#   infra/dataflow/launch.sh spark    INPUT OUTPUT [extra pipeline options]
# Environment: IMAGE (worker image built from infra/docker/Dockerfile, required);
#   dataflow: PROJECT, REGION (us-central1), TEMP (gs://.../tmp), MAX_WORKERS (100), MACHINE (n2-highcpu-16)
#   flink: FLINK_MASTER (host:8081), PARALLELISM (64);  spark: SPARK_MASTER (spark://host:7077)
set -euo pipefail
runner=${1:?dataflow|flink|spark}; input=${2:?manifest URI}; output=${3:?output URI}; shift 3
: "${IMAGE:?set IMAGE to the worker image (infra/docker/Dockerfile)}"
PY=${PY:-python}
case "$runner" in
  dataflow)
    exec "$PY" -m pipeline build --input "$input" --output "$output" \
      --runner DataflowRunner --project "${PROJECT:?}" --region "${REGION:-us-central1}" \
      --temp_location "${TEMP:?gs://bucket/tmp}" --sdk_container_image "$IMAGE" \
      --experiments=use_runner_v2 --machine_type "${MACHINE:-n2-highcpu-16}" \
      --max_num_workers "${MAX_WORKERS:-100}" --number_of_worker_harness_threads 16 "$@" ;;
  flink)
    exec "$PY" -m pipeline build --input "$input" --output "$output" \
      --runner FlinkRunner --flink_master "${FLINK_MASTER:?host:8081}" \
      --environment_type DOCKER --environment_config "$IMAGE" \
      --parallelism "${PARALLELISM:-64}" "$@" ;;
  spark)
    exec "$PY" -m pipeline build --input "$input" --output "$output" \
      --runner SparkRunner --spark_master_url "${SPARK_MASTER:?spark://host:7077}" \
      --environment_type DOCKER --environment_config "$IMAGE" "$@" ;;
  *) echo "unknown runner: $runner (dataflow|flink|spark)" >&2; exit 2 ;;
esac
