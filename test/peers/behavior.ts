/** What a peer does next: `set(behavior, times)` applies to the next `times` requests, then `ok` again. */
export class BehaviorSchedule<B extends { kind: string }> {
  private current: { behavior: B | { kind: 'ok' }; remaining: number } = { behavior: { kind: 'ok' }, remaining: Infinity };

  set(behavior: B | { kind: 'ok' }, times = Infinity): void {
    this.current = { behavior, remaining: times };
  }

  next(): B | { kind: 'ok' } {
    const { behavior } = this.current;
    this.current.remaining -= 1;
    if (this.current.remaining <= 0) this.current = { behavior: { kind: 'ok' }, remaining: Infinity };
    return behavior;
  }
}
