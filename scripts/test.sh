#!/usr/bin/env bash
# Set up and run every test. The GTZAN tests use $GTZAN_DIR (default ../shared/gtzan when present);
# the browser tests need Debian's chromium, the slide-deck tests poppler-utils and LibreOffice Impress, installed
# here when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
if ! command -v chromium >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser tests" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null \
    || echo "warning: chromium could not be installed; browser tests will be skipped" >&2
fi
if ! command -v pdftoppm >/dev/null 2>&1; then
  echo "installing Debian poppler-utils (pdftoppm, pdftotext) for the slide-deck tests" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get install -y -qq poppler-utils >/dev/null 2>&1 || { $SUDO apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq poppler-utils >/dev/null; } \
    || echo "warning: poppler-utils could not be installed; the PDF rendering test will be skipped" >&2
fi
if ! command -v soffice >/dev/null 2>&1; then
  echo "installing Debian libreoffice-impress (and the Arial-metric Liberation fonts) for the slide-deck render test" >&2
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libreoffice-impress fonts-liberation2 >/dev/null 2>&1 || { $SUDO apt-get update -qq && \
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libreoffice-impress fonts-liberation2 >/dev/null; } \
    || echo "warning: libreoffice-impress could not be installed; the LibreOffice slide test will be skipped" >&2
fi
if [ -z "${GTZAN_DIR:-}" ] && [ -d ../shared/gtzan ]; then
  export GTZAN_DIR="$(cd ../shared/gtzan && pwd)"
fi
echo "GTZAN_DIR=${GTZAN_DIR:-<unset: dataset tests will be skipped>}"
echo "lint: ruff and the import-layer contracts (pyproject.toml)"
.venv/bin/ruff check --quiet .
.venv/bin/lint-imports --no-cache | tail -n 4
exec .venv/bin/python -m pytest "$@"
