/**
 * A small line chart as inline SVG, rendered on the server: no charting script reaches the browser,
 * and it draws before any script runs. Only presentation attributes (no style attribute), so the
 * page's Content-Security-Policy needs no 'unsafe-inline'.
 */
export function sparkline(values: readonly number[], { width = 160, height = 36, label }: { width?: number; height?: number; label: string }): string {
  const finite = values.filter((value) => Number.isFinite(value));
  if (finite.length < 2) return '';
  // The budget's zero line is always in view: a budget heading for it should look like it.
  const min = Math.min(0, ...finite);
  const max = Math.max(...finite, min + 1e-9);
  const pad = 2;
  const x = (i: number) => pad + (i * (width - 2 * pad)) / (finite.length - 1);
  const y = (value: number) => pad + ((max - value) * (height - 2 * pad)) / (max - min);
  const points = finite.map((value, i) => `${x(i).toFixed(1)},${y(value).toFixed(1)}`).join(' ');
  const zero = y(0).toFixed(1);
  const last = finite[finite.length - 1]!;
  const escaped = label.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
  return (
    `<svg class="spark" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escaped}">` +
    `<title>${escaped}</title>` +
    `<line x1="${pad}" x2="${width - pad}" y1="${zero}" y2="${zero}" stroke="currentColor" stroke-opacity="0.35" stroke-dasharray="2 3"/>` +
    `<polyline points="${points}" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round"/>` +
    `<circle cx="${x(finite.length - 1).toFixed(1)}" cy="${y(last).toFixed(1)}" r="2.2" fill="currentColor"/>` +
    `</svg>`
  );
}
