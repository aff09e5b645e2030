#!/usr/bin/env bash
# The test command named in the README: the whole suite (unit, integration, API, schemathesis, browser, e2e).
# Set CAREBRIDGE_TEST_DATABASE_URL=postgresql+psycopg://… to run it on PostgreSQL instead of SQLite.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python -m pytest -n 2 --dist loadfile "$@"
