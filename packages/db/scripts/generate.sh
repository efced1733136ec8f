#!/usr/bin/env bash
# Generates the Prisma client into packages/db/src/generated/prisma (git-ignored), offline.
# Idempotent and cheap: skips when schema.prisma and the installed prisma version are unchanged
# since the last generation (a stamp file inside the output). Call it before tests, typecheck
# and runs: `bash packages/db/scripts/generate.sh` (any working directory).
set -euo pipefail

db_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
repo_root="$(cd "$db_dir/../.." && pwd)"
out_dir="$db_dir/src/generated/prisma"
stamp="$out_dir/.generated-from"

prisma_version="$(node -p "require('$repo_root/node_modules/prisma/package.json').version")"
want="$(cat "$db_dir/prisma/schema.prisma" "$db_dir/prisma.config.ts" | sha256sum | cut -c1-64) prisma@$prisma_version"

up_to_date() { [[ -f "$stamp" && -f "$out_dir/client.ts" && "$(cat "$stamp")" == "$want" ]]; }
up_to_date && exit 0

# Parallel callers (CI jobs, test workers) wait for one generation instead of racing.
mkdir -p "$db_dir/src/generated"
exec 9>"$db_dir/src/generated/.generate.lock"
flock 9
up_to_date && exit 0

cd "$db_dir"
# `prisma generate` only checks that a schema engine exists; it never runs it. Pointing it at
# any existing file stops it from trying to download one (there is no internet here).
if ! output="$(PRISMA_SCHEMA_ENGINE_BINARY="${PRISMA_SCHEMA_ENGINE_BINARY:-/bin/true}" \
  PRISMA_HIDE_UPDATE_MESSAGE=1 CHECKPOINT_DISABLE=1 \
  "$repo_root/node_modules/.bin/prisma" generate 2>&1)"; then
  printf '%s\n' "$output" >&2
  exit 1
fi
printf '%s' "$want" >"$stamp"
echo "prisma client generated into ${out_dir#"$repo_root"/}"
