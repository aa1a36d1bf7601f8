import { describe, expect, it } from 'vitest';
import { SharedRenders } from '../../src/ui/shared-renders.js';

/** A hub whose generation the test moves, a clock it sets, and a render that counts its calls. */
function setUp() {
  const hub = { id: 'a1b2c3d4', generation: 3 };
  let now = 1_000_000;
  const renders = new SharedRenders<string>(hub, () => now);
  let calls = 0;
  const render = async () => `render ${++calls} at generation ${hub.generation}`;
  return {
    hub,
    renders,
    render,
    calls: () => calls,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

describe('shared renders of the page fragments', () => {
  it('renders once for every page reloading for the same generation', async () => {
    const { renders, render, calls } = setUp();
    const pages = await Promise.all(Array.from({ length: 50 }, () => renders.get('operator /ui/live', 'a1b2c3d4.3', render)));
    expect(calls()).toBe(1);
    expect(new Set(pages)).toEqual(new Set(['render 1 at generation 3']));
  });

  it('serves a reload for an earlier generation with a newer render, and renders again for a later one', async () => {
    const { hub, renders, render, calls } = setUp();
    await renders.get('operator /ui/live', 'a1b2c3d4.3', render);
    expect(await renders.get('operator /ui/live', 'a1b2c3d4.2', render)).toBe('render 1 at generation 3');
    hub.generation = 4;
    expect(await renders.get('operator /ui/live', 'a1b2c3d4.4', render)).toBe('render 2 at generation 4');
    expect(await renders.get('operator /ui/live', 'a1b2c3d4.3', render)).toBe('render 2 at generation 4');
    expect(calls()).toBe(2);
  });

  it('renders afresh without a generation, for another replica, for a generation not yet reached, or once the render is old', async () => {
    const { renders, render, calls, advance } = setUp();
    await renders.get('operator /ui/live', 'a1b2c3d4.3', render);
    for (const gen of [undefined, '', '3', 'ffffffff.3', 'a1b2c3d4.4', 'a1b2c3d4.x', ['a1b2c3d4.3']]) await renders.get('operator /ui/live', gen, render);
    expect(calls()).toBe(8);
    advance(5_000);
    await renders.get('operator /ui/live', 'a1b2c3d4.3', render);
    expect(calls()).toBe(9);
  });

  it('keeps the renders of different keys apart, and forgets a render that failed', async () => {
    const { renders, render, calls } = setUp();
    await renders.get('operator /ui/live', 'a1b2c3d4.3', render);
    await renders.get('viewer /ui/live', 'a1b2c3d4.3', render);
    expect(calls()).toBe(2);
    await expect(renders.get('operator /ui/live?state=open', 'a1b2c3d4.3', () => Promise.reject(new Error('Redis down')))).rejects.toThrow('Redis down');
    await Promise.resolve();
    expect(await renders.get('operator /ui/live?state=open', 'a1b2c3d4.3', render)).toBe('render 3 at generation 3');
  });
});
