/**
 * Campaigns on the end-to-end machine (not the synthetic stand-in): worker
 * threads load the machine runner (from source: through tsx), its results
 * cross the thread and Redis boundaries, and the summary is the serial one.
 * Redis: $EEHSIM_TEST_REDIS when set (.ci/run starts one), otherwise a
 * redis-server of our own on a free port of 127.0.0.1, stopped at the end.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../src/cli/io.js';
import { runCli } from '../../src/cli/program.js';
import { startTestRedis, type TestRedis } from '../support/redis.js';

function io(): { o: { out: string; err: string }; io: CliIo } {
  const o = { out: '', err: '' };
  return {
    o,
    io: {
      out: (t) => {
        o.out += t;
      },
      err: (t) => {
        o.err += t;
      },
      progress: { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream,
      signals: false,
    },
  };
}

async function campaign(...extra: string[]) {
  const c = io();
  const args = ['campaign', 'default', '--runs', '6', '--vary', 'fault.at=1ms..1s,design=d|a'];
  const code = await runCli([...args, '--seed', '9', '--json', '--no-progress', ...extra], c.io);
  expect(code, c.o.err).toBe(0);
  return { json: JSON.parse(c.o.out), err: c.o.err };
}

describe('a campaign on the machine', () => {
  it('worker threads give the serial summary, with every run a machine result', async () => {
    const serial = await campaign('--serial');
    const threads = await campaign('--jobs', '2');
    expect(threads.err).toContain('on 2 worker threads');
    expect(threads.json.campaign.runner).toBe('machine');
    expect(serial.json.summary).toMatchObject({ runs: 6, errors: 0 });
    expect(serial.json.summary.recovered).toBeGreaterThan(0);
    expect(threads.json.summary).toEqual(serial.json.summary);
  }, 120_000);
});

let redis: TestRedis | undefined;

async function redisUrl(): Promise<string> {
  redis = await startTestRedis();
  return redis.url;
}

afterAll(() => redis?.stop());

describe('a campaign on the machine through Redis', () => {
  it('two eehsim workers give the local summary', async () => {
    const url = await redisUrl();
    const w = [io(), io()];
    const workers = w.map((x) =>
      runCli(['worker', '--queue', url, '--jobs', '1', '--idle-exit', '3s'], x.io),
    );
    // Both workers listen before the runs are queued.
    await new Promise((r) => setTimeout(r, 500));
    const queued = await campaign('--queue', url);
    expect(await Promise.all(workers)).toEqual([0, 0]);
    const ran = w.map((x) => Number(/worker: ran (\d+) runs/.exec(x.o.err)?.[1] ?? -1));
    expect(ran.reduce((a, b) => a + b, 0)).toBe(6);
    const local = await campaign('--serial');
    expect(queued.json.summary).toEqual(local.json.summary);
  }, 120_000);
});
