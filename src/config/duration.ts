/** Prometheus/Alertmanager duration strings: "30d", "1h30m", "500ms", "1w". */
const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

const DURATION = /^(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?$/;
const UNITS_IN_ORDER = ['y', 'w', 'd', 'h', 'm', 's', 'ms'] as const;

/** Milliseconds, or null when `text` is not a valid non-empty Prometheus duration. */
export function parseDuration(text: string): number | null {
  if (text === '' || text === '0') return text === '0' ? 0 : null;
  const match = DURATION.exec(text);
  if (!match) return null;
  let total = 0;
  UNITS_IN_ORDER.forEach((unit, i) => {
    const amount = match[i + 1];
    if (amount !== undefined) total += Number(amount) * UNIT_MS[unit]!;
  });
  return total;
}

/** Compact human form, largest units first, at most two of them: 5d 2h, 45m, 30s. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return 'unknown';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms / 1000);
  for (const [unit, seconds] of [
    ['d', 86_400],
    ['h', 3_600],
    ['m', 60],
    ['s', 1],
  ] as const) {
    if (rest >= seconds) {
      parts.push(`${Math.floor(rest / seconds)}${unit}`);
      rest %= seconds;
    }
    if (parts.length === 2) break;
  }
  return parts.join(' ');
}
