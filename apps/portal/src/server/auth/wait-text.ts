/** "30 seconds", "1 minute", "15 minutes": a wait as people read it (rounded up to minutes from 2 minutes on). */
export function waitText(seconds: number): string {
  if (seconds < 120) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  return `${Math.ceil(seconds / 60)} minutes`;
}
