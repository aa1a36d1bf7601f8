/** One request as a peer recorded it, with when it arrived and what the script made the peer do. */
export interface Arrival<R, B> {
  at: number;
  record: R;
  behavior: B;
}

/**
 * Timestamps each record as a peer appends it to its `received` list, and calls `onRecord` right then
 * (synchronously, before the peer goes on handling that request).
 */
export function recordArrivals<R>(records: R[], onRecord: (record: R, index: number) => void = () => {}): Array<{ at: number; record: R }> {
  const arrivals: Array<{ at: number; record: R }> = [];
  const push = records.push.bind(records);
  records.push = (...items: R[]) => {
    const length = push(...items);
    items.forEach((record, i) => {
      arrivals.push({ at: Date.now(), record });
      onRecord(record, length - items.length + i);
    });
    return length;
  };
  return arrivals;
}

interface ScriptablePeer<R, B> {
  received: R[];
  setBehavior(behavior: B, times?: number): void;
}

/**
 * Decides the behaviour of every request as it arrives. The HTTP peers (Slack, PagerDuty) record a
 * request in `received` just before they pick its behaviour, so a behaviour set from here applies
 * to that very request: phases ("429 until told otherwise, then five 503s") need no timing.
 */
export function scriptPeer<R, B extends { kind: string }>(peer: ScriptablePeer<R, B>, script: (record: R, index: number) => B): Array<Arrival<R, B>> {
  const arrivals: Array<Arrival<R, B>> = [];
  recordArrivals(peer.received, (record, index) => {
    const behavior = script(record, index);
    peer.setBehavior(behavior, 1);
    arrivals.push({ at: Date.now(), record, behavior });
  });
  return arrivals;
}
