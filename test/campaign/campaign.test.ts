import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CampaignConfig, runCampaign } from '../../src/campaign/campaign.js';
import { type Executor, inProcessExecutor, threadExecutor } from '../../src/campaign/executor.js';
import { CampaignFileError, readCampaignFile } from '../../src/campaign/jsonl.js';
import type { RunRecord } from '../../src/campaign/record.js';
import { summarize } from '../../src/campaign/summary.js';
import { parseVary } from '../../src/campaign/vary.js';
import { loadScenario } from '../../src/scenario/builtin.js';

const dir = mkdtempSync(join(tmpdir(), 'eehsim-campaign-'));
const config: CampaignConfig = {
  ref: 'default',
  base: loadScenario('default').scenario,
  runs: 200,
  vary: parseVary('fault.at,fault.kind,driver,design'),
  seed: 2024,
  runner: 'synthetic',
};

let serial: RunRecord[];
let pool: Executor;

beforeAll(async () => {
  serial = (await runCampaign(config, inProcessExecutor())).records;
  pool = threadExecutor(2);
});
afterAll(async () => {
  await pool.close();
});

describe('campaign', () => {
  it('summarises failures, silent corruption and slow recoveries (200 runs)', () => {
    const s = summarize(serial);
    expect(s.runs).toBe(200);
    expect(s.recovered + s.failed + s.unfinished + s.unaffected + s.errors).toBe(200);
    expect(s.errors).toBe(0);
    expect(s.recovered).toBeGreaterThan(0);
    expect(s.failed).toBeGreaterThan(0);
    expect(s.causes.reduce((n, c) => n + c.runs, 0)).toBe(s.failed);
    expect(s.silent.runs).toBeGreaterThan(0);
    expect(s.slowest).toHaveLength(5);
    expect(s.slowest[0]!.recoveryNs).toBeGreaterThanOrEqual(s.slowest[4]!.recoveryNs);
  });

  it('gives the same records and summary serially and on worker threads (200 runs)', async () => {
    const threaded = await runCampaign(config, pool);
    expect(threaded.records).toEqual(serial);
    expect(summarize(threaded.records)).toEqual(summarize(serial));
  });

  it('summaries do not depend on record order or duplicates', () => {
    const shuffled = [...serial].reverse().concat(serial.slice(0, 10));
    expect(summarize(shuffled)).toEqual(summarize(serial));
  });

  it('writes JSONL as it goes; an interrupted campaign resumes to the same result', async () => {
    const out = join(dir, 'r.jsonl');
    const ac = new AbortController();
    const first = await runCampaign(config, pool, {
      out,
      signal: ac.signal,
      onRecord: (_r, done) => {
        if (done === 60) ac.abort();
      },
    });
    expect(first.interrupted).toBe(true);
    const partial = readCampaignFile(out);
    expect(partial.header).toMatchObject({
      scenario: 'default',
      runs: 200,
      seed: 2024,
      runner: 'synthetic',
    });
    expect(partial.records.length).toBe(first.records.length);
    expect(partial.records.length).toBeGreaterThanOrEqual(60);
    expect(partial.records.length).toBeLessThan(200);

    // a torn last line (killed mid-write) is dropped on resume
    writeFileSync(out, `${readFileSync(out, 'utf8')}{"index": 19`);
    const second = await runCampaign(config, pool, { out, resume: true });
    expect(second.resumed).toBe(partial.records.length);
    expect(second.interrupted).toBe(false);
    expect(second.records).toEqual(serial);
    const final = readCampaignFile(out);
    expect(final.records.map((r) => r.index).sort((a, b) => a - b)).toEqual([...Array(200).keys()]);
    expect(summarize(final.records)).toEqual(summarize(serial));
  });

  it('refuses to resume a different campaign', async () => {
    const out = join(dir, 'other.jsonl');
    await runCampaign({ ...config, runs: 3 }, inProcessExecutor(), { out });
    await expect(
      runCampaign({ ...config, seed: 1 }, inProcessExecutor(), { out, resume: true }),
    ).rejects.toThrow(CampaignFileError);
    // the same campaign with more runs extends it
    const more = await runCampaign({ ...config, runs: 5 }, inProcessExecutor(), {
      out,
      resume: true,
    });
    expect(more.resumed).toBe(3);
    expect(more.records).toEqual(serial.slice(0, 5));
  });

  it('records an invalid variant as an error run instead of stopping', async () => {
    const bad = { ...config, runs: 3, vary: parseVary('fault.at=6s..7s') };
    const r = await runCampaign(bad, inProcessExecutor());
    expect(r.records.map((x) => x.status)).toEqual(['error', 'error', 'error']);
    expect(r.records[0]!.cause).toMatch(/not before run_for/);
  });
});
