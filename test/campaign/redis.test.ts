/**
 * Campaigns through a real Redis (BullMQ). Uses $EEHSIM_TEST_REDIS when set
 * (.ci/run starts one), otherwise starts its own redis-server on a free
 * port of 127.0.0.1 and stops it at the end. redis-server is installed by
 * scripts/ensure-system-deps.mjs (npm test's pretest): never skipped.
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CampaignConfig, campaignId, runCampaign } from '../../src/campaign/campaign.js';
import { inProcessExecutor } from '../../src/campaign/executor.js';
import { readCampaignFile } from '../../src/campaign/jsonl.js';
import {
  QUEUE_NAME,
  QueueError,
  resultsKey,
  runQueueCampaign,
  runQueueWorker,
} from '../../src/campaign/queue.js';
import { summarize } from '../../src/campaign/summary.js';
import { parseVary } from '../../src/campaign/vary.js';
import { runCli } from '../../src/cli/program.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { freePort, startTestRedis, type TestRedis } from '../support/redis.js';

let redis: TestRedis;
let url: string;

beforeAll(async () => {
  redis = await startTestRedis();
  url = redis.url;
  // A clean queue for this test file.
  const r = new Redis(url);
  await r.flushdb();
  r.disconnect();
}, 30_000);

afterAll(() => redis?.stop());

const config: CampaignConfig = {
  ref: 'default',
  base: loadScenario('default').scenario,
  runs: 50,
  vary: parseVary('fault.at,fault.kind,driver'),
  seed: 99,
  runner: 'synthetic',
};

describe('campaign on a Redis queue (BullMQ)', () => {
  it('50 runs on two workers give the same summary as the local campaign', async () => {
    const local = await runCampaign(config, inProcessExecutor());
    const stop = new AbortController();
    const ran = [0, 0];
    const workers = [0, 1].map((w) =>
      runQueueWorker(url, {
        jobs: 1,
        signal: stop.signal,
        onRun: () => {
          ran[w] = (ran[w] as number) + 1;
        },
      }),
    );
    let queued: Awaited<ReturnType<typeof runQueueCampaign>>;
    const out = join(mkdtempSync(join(tmpdir(), 'eehsim-q-')), 'q.jsonl');
    try {
      // Both workers listen before the runs are queued (so both take part).
      const q = new Queue(QUEUE_NAME, { connection: { url } });
      for (let i = 0; i < 200 && (await q.getWorkersCount()) < 2; i++) {
        await new Promise((res) => setTimeout(res, 25));
      }
      expect(await q.getWorkersCount()).toBe(2);
      await q.close();
      queued = await runQueueCampaign(config, url, { out });
    } finally {
      stop.abort(); // never leave workers behind for the next tests
    }
    const counts = await Promise.all(workers);
    expect(counts).toEqual(ran);
    expect(counts[0]! + counts[1]!).toBe(50);
    expect(counts[0]).toBeGreaterThan(0); // both workers took part
    expect(counts[1]).toBeGreaterThan(0);
    expect(queued.records).toEqual(local.records);
    expect(summarize(queued.records)).toEqual(summarize(local.records));
    expect(readCampaignFile(out).records).toHaveLength(50);
    // the results are collected in Redis
    const r = new Redis(url);
    expect(await r.llen(resultsKey(campaignId(config)))).toBe(50);
    r.disconnect();
  });

  it('an interrupted queue campaign resumes: records already in Redis are collected', async () => {
    const c = { ...config, seed: 100, runs: 20 };
    const out = join(mkdtempSync(join(tmpdir(), 'eehsim-q-')), 'r.jsonl');
    // No worker yet: the campaign queues its runs; interrupt it.
    const ac = new AbortController();
    const pending = runQueueCampaign(c, url, { out, signal: ac.signal, pollMs: 20 });
    await new Promise((res) => setTimeout(res, 300));
    ac.abort();
    const first = await pending;
    expect(first.interrupted).toBe(true);
    expect(first.records).toHaveLength(0);
    // A worker processes the queued runs meanwhile; --resume collects them.
    const n = await runQueueWorker(url, {
      jobs: 1,
      idleExitMs: 500,
      executor: inProcessExecutor(),
    });
    expect(n).toBe(20);
    const second = await runQueueCampaign(c, url, { out, resume: true });
    expect(second.interrupted).toBe(false);
    expect(summarize(second.records)).toEqual(
      summarize((await runCampaign(c, inProcessExecutor())).records),
    );
  });

  it('eehsim campaign --queue and eehsim worker (the commands)', async () => {
    const io = () => {
      const o = { out: '', err: '' };
      return {
        o,
        io: {
          out: (t: string) => {
            o.out += t;
          },
          err: (t: string) => {
            o.err += t;
          },
          progress: { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream,
          signals: false,
        },
      };
    };
    const w = io();
    const worker = runCli(['worker', '--queue', url, '--jobs', '1', '--idle-exit', '1s'], w.io);
    const c = io();
    const args = [
      'campaign',
      'default',
      '--runs',
      '30',
      '--vary',
      'fault.kind',
      '--runner',
      'synthetic',
      '--json',
    ];
    const code = await runCli([...args, '--queue', url, '--seed', '5'], c.io);
    expect(code).toBe(0);
    expect(await worker).toBe(0);
    expect(w.o.err).toContain('worker: ran 30 runs');
    const l = io();
    expect(await runCli([...args, '--serial', '--seed', '5'], l.io)).toBe(0);
    expect(JSON.parse(c.o.out).summary).toEqual(JSON.parse(l.o.out).summary);
  });

  it('fails fast with a clear error when Redis is unreachable', async () => {
    const port = await freePort();
    await expect(runQueueCampaign(config, `redis://127.0.0.1:${port}`)).rejects.toThrow(QueueError);
    await expect(runQueueCampaign(config, 'http://x')).rejects.toThrow(/not a redis:\/\/ URL/);
  });
});
