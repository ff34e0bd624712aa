import { describe, expect, it } from 'vitest';
import { join, Scheduler, sleep, type Task, WaitQueue, waitOn } from '../../src/sim/scheduler.js';

describe('Scheduler', () => {
  it('runs events in time order and same-time events in insertion order', () => {
    const s = new Scheduler();
    const seen: string[] = [];
    s.at(20, () => seen.push('c'));
    s.at(10, () => seen.push('a'));
    s.at(10, () => seen.push('b'));
    s.at(5, () => s.at(10, () => seen.push('d')));
    s.run();
    expect(seen).toEqual(['a', 'b', 'd', 'c']);
    expect(s.now).toBe(20);
  });

  it('stops at `until` and advances the clock to it', () => {
    const s = new Scheduler();
    const seen: number[] = [];
    s.at(10, () => seen.push(10));
    s.at(30, () => seen.push(30));
    expect(s.run(20)).toBe(1);
    expect(s.now).toBe(20);
    expect(seen).toEqual([10]);
    s.run();
    expect(seen).toEqual([10, 30]);
  });

  it('cancelled timers never fire', () => {
    const s = new Scheduler();
    let fired = false;
    s.at(10, () => {
      fired = true;
    }).cancel();
    s.run();
    expect(fired).toBe(false);
    expect(s.idle).toBe(true);
  });

  it('rejects non-integer times', () => {
    expect(() => new Scheduler().at(1.5, () => {})).toThrow(RangeError);
  });

  it('interleaves processes by virtual time', () => {
    const s = new Scheduler();
    const log: string[] = [];
    function* worker(name: string, period: number): Task<number> {
      for (let i = 0; i < 3; i++) {
        yield* sleep(period);
        log.push(`${name}@${s.now}`);
      }
      return period;
    }
    const a = s.spawn('a', worker('a', 10));
    const b = s.spawn('b', worker('b', 15));
    s.run();
    expect(log).toEqual(['a@10', 'b@15', 'a@20', 'b@30', 'a@30', 'b@45']);
    expect(a.result).toBe(10);
    expect(b.done).toBe(true);
  });

  it('wait queues wake waiters or time them out', () => {
    const s = new Scheduler();
    const q = new WaitQueue();
    const got: Array<[string, boolean, number]> = [];
    function* waiter(name: string, timeout?: number): Task<void> {
      const woken = yield* waitOn(q, timeout);
      got.push([name, woken, s.now]);
    }
    s.spawn('short', waiter('short', 5));
    s.spawn('long', waiter('long', 100));
    s.at(50, () => q.wakeAll(s));
    s.run();
    expect(got).toEqual([
      ['short', false, 5],
      ['long', true, 50],
    ]);
    expect(q.length).toBe(0);
  });

  it('join returns the result of another process', () => {
    const s = new Scheduler();
    let out = 0;
    const child = s.spawn(
      'child',
      (function* (): Task<number> {
        yield* sleep(7);
        return 42;
      })(),
    );
    s.spawn(
      'parent',
      (function* (): Task<void> {
        out = yield* join(child);
      })(),
    );
    s.run();
    expect(out).toBe(42);
    expect(s.now).toBe(7);
  });

  it('tracks the running process and its owner', () => {
    const s = new Scheduler();
    const owners: string[] = [];
    s.spawn(
      'g',
      (function* (): Task<void> {
        owners.push(s.current?.owner ?? '-');
        yield* sleep(1);
        owners.push(s.current?.owner ?? '-');
      })(),
      'vm0',
    );
    s.run();
    expect(owners).toEqual(['vm0', 'vm0']);
    expect(s.current).toBeUndefined();
  });
});
