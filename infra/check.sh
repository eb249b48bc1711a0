#!/usr/bin/env bash
# Static checks of infra/: terraform fmt and checkov (no failed check; skips are inline with
# a reason). checkov is installed into .venv-checkov/ when missing. Run from anywhere:
#   bash infra/check.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

terraform fmt -check -recursive -diff infra

# checkov, pinned, in a venv of its own (it pins boto3/botocore versions moto's venv must not get).
CHECKOV_VERSION=3.3.30
if ! .venv-checkov/bin/python -c "import importlib.metadata as m, sys; sys.exit(m.version('checkov') != '$CHECKOV_VERSION')" 2>/dev/null; then
  [ -x .venv-checkov/bin/pip ] || python3 -m venv .venv-checkov
  .venv-checkov/bin/pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
fi
# --skip-download: no policy metadata from the network; the checks are the built-in ones.
.venv-checkov/bin/checkov -d infra --framework terraform --quiet --compact --skip-download
