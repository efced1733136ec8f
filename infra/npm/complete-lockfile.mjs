// The npm registry these machines reach serves only this platform's builds of packages that
// ship native binaries (biome, dbmate, turbo), so `npm install` leaves the other platforms'
// optional entries out of package-lock.json and `npm ci` then refuses the lockfile as out of
// sync. This adds the missing entries the way npm records an optional platform package (exact
// version, optional), so `npm ci` accepts the lockfile and skips them where they do not apply.
// Run after any `npm install` that changes the lockfile: `node infra/npm/complete-lockfile.mjs`;
// `--check` (run by `npm test`) fails instead of writing when an entry is missing.
import { readFileSync, writeFileSync } from 'node:fs';

const path = new URL('../../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(path, 'utf8'));
const packages = lock.packages;
let added = 0;
for (const [location, entry] of Object.entries(packages)) {
  if (!entry.optionalDependencies || !location.startsWith('node_modules/')) continue;
  const base = location.slice(0, location.lastIndexOf('node_modules/'));
  for (const [name, version] of Object.entries(entry.optionalDependencies)) {
    const nested = `${location}/node_modules/${name}`;
    const hoisted = `${base}node_modules/${name}`;
    if (packages[nested] || packages[hoisted]) continue;
    if (!/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(version)) continue; // only exact pins are platform builds
    packages[hoisted] = { version, ...(entry.dev ? { dev: true } : {}), optional: true };
    added++;
  }
}
if (process.argv.includes('--check')) {
  if (added > 0) {
    console.error(
      `package-lock.json misses ${added} optional platform entries: run node infra/npm/complete-lockfile.mjs`,
    );
    process.exit(1);
  }
  process.exit(0);
}
const sorted = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a.localeCompare(b))),
);
lock.packages = sorted;
writeFileSync(path, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`complete-lockfile: added ${added} optional platform entries`);
