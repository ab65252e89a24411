#!/usr/bin/env bash
# Creates .venv and installs everything the project and its tests need.
set -euo pipefail
cd "$(dirname "$0")/.."

# `setup.sh --test` also installs what only the tests need (headless Chromium for the report test)
need_apt=()
command -v ffmpeg >/dev/null 2>&1 || need_apt+=(ffmpeg)
command -v espeak-ng >/dev/null 2>&1 || need_apt+=(espeak-ng)
if [ "${1:-}" = "--test" ]; then
  command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing ${need_apt[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${need_apt[*]}" >&2
    echo "  install them first, e.g. 'sudo apt-get install -y ${need_apt[*]}' (Debian/Ubuntu)" >&2
    echo "  or 'brew install ffmpeg espeak-ng' (macOS)" >&2
    exit 1
  fi
fi

if [ "${1:-}" = "--test" ]; then
  exit 0
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# torch is pinned: 2.13.0 is the CPU build available on the development machines; an unpinned
# torch would pull a multi-GB CUDA build. On a GPU machine install the matching CUDA wheel first.
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  .venv/bin/python -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
fi
.venv/bin/python -m pip install -q -e ".[dev]"
echo "setup: done ($(.venv/bin/python -c 'import torch, apache_beam, ray; print("torch", torch.__version__, "beam", apache_beam.__version__, "ray", ray.__version__)'))"
