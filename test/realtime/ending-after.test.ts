// The apiKeyRevoked stream's own rule: hold the close from the first pull, end on the pull after
// the last event (once the transport has sent it), release however the stream ends.
import { Repeater } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { endingAfter } from '../../src/realtime/ending-after.js';

function counted() {
  const state = { holds: 0, taken: 0 };
  const hold = () => {
    state.holds += 1;
    state.taken += 1;
    return () => {
      state.holds -= 1;
    };
  };
  return { state, hold };
}

describe('endingAfter', () => {
  it('holds nothing until pulled, delivers the last event and those already waiting, and ends (releasing) on the next pull', async () => {
    const { state, hold } = counted();
    let sourceEnded = false;
    const source = new Repeater<number>(async (push, stop) => {
      for (const n of [1, 2, 3, 4]) await push(n);
      await new Promise((resolve) => setTimeout(resolve, 50));
      void push(5); // too late: not waited for
      await stop;
      sourceEnded = true;
    });
    const stream = endingAfter(source, (n) => n === 2, hold);
    expect(state.taken).toBe(0);
    expect(await stream.next()).toEqual({ done: false, value: 1 });
    expect(state.holds).toBe(1);
    expect(await stream.next()).toEqual({ done: false, value: 2 });
    expect(state.holds).toBe(1); // delivered only once the consumer pulls again
    // 3 and 4 were waiting (pushed together with the last one): delivered before the end.
    expect(await stream.next()).toEqual({ done: false, value: 3 });
    expect(await stream.next()).toEqual({ done: false, value: 4 });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(state.holds).toBe(0);
    expect(sourceEnded).toBe(true);
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(state.taken).toBe(1);
  });

  it('releases when returned while a pull is pending, and ends that pull', async () => {
    const { state, hold } = counted();
    const source = new Repeater<number>(async (_push, stop) => {
      await stop;
    });
    const stream = endingAfter(source, () => true, hold);
    const pending = stream.next();
    await Promise.resolve();
    expect(state.holds).toBe(1);
    await stream.return?.();
    expect(await pending).toEqual({ done: true, value: undefined });
    expect(state.holds).toBe(0);
  });

  it('releases when the source ends first', async () => {
    const { state, hold } = counted();
    const stream = endingAfter(new Repeater<number>((push, stop) => void push(7).then(() => stop())), () => false, hold);
    expect(await stream.next()).toEqual({ done: false, value: 7 });
    expect(await stream.next()).toEqual({ done: true, value: undefined });
    expect(state.holds).toBe(0);
  });
});
