/**
 * Renders of the page's fragments shared by the pages that reload for the same change. Each change
 * event names the generation of the replica that sent it (`<hub>.<n>`, src/ui/events.ts); a render
 * begun at generation n or later shows everything that event announced, so every page reloading
 * for it, or for an earlier one, can have that render. Fifty pages following a storm then cost one
 * render per fragment and change, not fifty.
 */

/** How long a render serves later reloads. */
const REUSE_MS = 5_000;
/** Renders kept at most (one per fragment, role and filter in practice). */
const MAX_ENTRIES = 200;

interface Entry<T> {
  generation: number;
  at: number;
  value: Promise<T>;
}

export class SharedRenders<T> {
  private readonly entries = new Map<string, Entry<T>>();

  constructor(
    /** The hub's generation now, and the name it gives its generations. */
    private readonly hub: { readonly id: string; readonly generation: number },
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `render()`'s result for `key`, or a render of the same key begun since the generation that
   * `gen` names. A reload that names no generation, or another replica's, renders afresh.
   */
  get(key: string, gen: unknown, render: () => Promise<T>): Promise<T> {
    const wanted = this.generationOf(gen);
    if (wanted === null) return render();
    const now = this.now();
    const entry = this.entries.get(key);
    if (entry && entry.generation >= wanted && now - entry.at < REUSE_MS) return entry.value;
    const value = render();
    this.entries.set(key, { generation: this.hub.generation, at: now, value });
    value.catch(() => this.entries.delete(key));
    for (const [old, { at }] of this.entries) if (now - at >= REUSE_MS || this.entries.size > MAX_ENTRIES) this.entries.delete(old);
    return value;
  }

  /** The generation `gen` names when it is this replica's and not ahead of it; otherwise null. */
  private generationOf(gen: unknown): number | null {
    if (typeof gen !== 'string') return null;
    const dot = gen.lastIndexOf('.');
    if (gen.slice(0, dot) !== this.hub.id) return null;
    const generation = Number(gen.slice(dot + 1));
    return Number.isInteger(generation) && generation >= 0 && generation <= this.hub.generation ? generation : null;
  }
}
