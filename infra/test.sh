#!/usr/bin/env bash
# `npm test`: every test, against the real services. Starts the local stack when it is not
# running (installing what is missing), migrates, then lints, typechecks and runs vitest.
set -euo pipefail
cd "$(dirname "$0")/.."

bash infra/stack.sh up
set -a
# shellcheck disable=SC1091
source .tollgate/stack.env
set +a

bash packages/db/scripts/generate.sh
npm run --silent migrate

echo "== lint"
node infra/npm/complete-lockfile.mjs --check
npx biome ci .
echo "== typecheck"
npx turbo run typecheck --output-logs=errors-only
echo "== tests"
npx vitest run "$@"
