// Units in scenario attributes: durations (500ms, 10s, 2m, 1h, or plain ms) and sizes (4096, 64K,
// 1M, 2G: binary multiples of a byte).
const DURATION = /^(\d+)(ms|s|m|h)?$/;
const SIZE = /^(\d+)([KMGT])?$/;

export const durationPattern = DURATION;
export const sizePattern = SIZE;

export function parseDuration(s: string): number | undefined {
  const m = DURATION.exec(s.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return n * ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000 } as Record<string, number>)[m[2] ?? 'ms'];
}

export function parseSize(s: string): number | undefined {
  const m = SIZE.exec(s.trim());
  if (!m) return undefined;
  return Number(m[1]) * 1024 ** ' KMGT'.indexOf(m[2] ?? ' ');
}
