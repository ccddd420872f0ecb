#!/usr/bin/env bash
# Everything the tests need on a fresh machine: Debian packages, the pinned oracle packages in .venv
# (onnx, onnxruntime, numpy, pillow from PyPI), and the generated fixtures in .fixtures/ (test models,
# preprocessed photos, onnxruntime's reference outputs). Idempotent.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup-host.sh
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! .venv/bin/python -m pip freeze 2>/dev/null | sort | diff -q - <(grep -E '^[a-z]' Tests/Fixtures/requirements.txt | sort) >/dev/null; then
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -r Tests/Fixtures/requirements.txt
fi
.venv/bin/python Tests/Fixtures/make_fixtures.py
.venv/bin/python Tests/Fixtures/make_operator_fixtures.py
.venv/bin/python Tests/Fixtures/make_imaging_fixtures.py
.venv/bin/python Tests/Fixtures/make_qdq_fixtures.py
