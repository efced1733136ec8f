import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * One spool per directory: a lock file holds the owner's pid. A directory held by a live process
 * (or already open in this one) is refused; a lock left by a dead process is taken over.
 */
const LOCK_FILE = 'lock';
/** Spool directories open in this process (the lock file guards against other processes). */
const openDirs = new Set<string>();

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function lockSpool(dir: string): void {
  if (openDirs.has(dir)) throw new Error(`usage spool ${dir} is already open in this process`);
  const lockPath = join(dir, LOCK_FILE);
  let holder = Number.NaN;
  try {
    holder = Number(readFileSync(lockPath, 'utf8').trim());
  } catch {
    // No lock file: the directory is free.
  }
  if (Number.isInteger(holder) && holder > 0 && holder !== process.pid && processAlive(holder)) {
    throw new Error(`usage spool ${dir} is in use by process ${holder}`);
  }
  writeFileSync(lockPath, `${process.pid}\n`);
  openDirs.add(dir);
}

export function unlockSpool(dir: string): void {
  openDirs.delete(dir);
  try {
    unlinkSync(join(dir, LOCK_FILE));
  } catch {
    // Already gone: nothing to release.
  }
}
