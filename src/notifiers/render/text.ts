/** Text helpers for untrusted label and annotation values: every channel escapes and cuts with these. */

export const TRUNCATION_MARKER = '…[truncated]';

const identity = (text: string): string => text;

/**
 * `escape(text)` cut to at most `limit` UTF-16 units, ending with the marker when cut.
 * Escapes character by character so a cut never splits an entity (`&am`) or a surrogate pair.
 */
export function truncate(text: string, limit: number, escape: (text: string) => string = identity): string {
  const whole = escape(text);
  if (whole.length <= limit) return whole;
  const room = limit - TRUNCATION_MARKER.length;
  let kept = '';
  for (const char of text) {
    const piece = escape(char);
    if (kept.length + piece.length > room) break;
    kept += piece;
  }
  return kept + TRUNCATION_MARKER;
}

/** Slack mrkdwn: with `<` and `>` escaped, `<!channel>`, `<@U123>` and `<url|text>` are plain text. */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const HTML_ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** HTML text and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => HTML_ENTITIES[char]!);
}

/** One line for a header value or a title: CR, LF and other control characters become spaces. */
export function singleLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
}
