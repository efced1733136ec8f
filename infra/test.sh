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
# Unit and integration tests; the whole-platform tests need `npm start` first (below).
REPORTS=.tollgate/test-reports
rm -rf "$REPORTS" && mkdir -p "$REPORTS"
npx vitest run --exclude 'e2e/journey.int.test.ts' --exclude 'e2e/run-command.int.test.ts' \
  --reporter=default --reporter=json --outputFile.json="$REPORTS/suite.json" "$@"

if [[ $# -eq 0 ]]; then
  echo "== whole platform: the README's run command, then the journeys through it"
  trap 'bash infra/run.sh down >/dev/null 2>&1 || true' EXIT
  bash infra/run.sh | tee .tollgate/run-output.txt
  TOLLGATE_E2E_PLATFORM=1 npx vitest run e2e/run-command.int.test.ts e2e/journey.int.test.ts \
    --reporter=default --reporter=json --outputFile.json="$REPORTS/platform.json"
fi

# One closing line over both runs, for people and CI alike.
node -e '
  const fs = require("node:fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const f of fs.readdirSync(process.argv[1])) {
    const r = JSON.parse(fs.readFileSync(`${process.argv[1]}/${f}`, "utf8"));
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += r.numPendingTests + r.numTodoTests;
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
' "$REPORTS"
