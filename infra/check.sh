#!/usr/bin/env bash
# Static checks of infra/: terraform fmt and checkov (no failed check; skips are inline with
# a reason). checkov is installed into .venv/ when missing. Run from anywhere:
#   bash infra/check.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

terraform fmt -check -recursive -diff infra

if [ ! -x .venv/bin/checkov ]; then
  [ -x .venv/bin/pip ] || python3 -m venv .venv
  .venv/bin/pip install --quiet checkov
fi
# --skip-download: no policy metadata from the network; the checks are the built-in ones.
.venv/bin/checkov -d infra --framework terraform --quiet --compact --skip-download
