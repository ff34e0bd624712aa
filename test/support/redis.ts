/**
 * A Redis for tests: $EEHSIM_TEST_REDIS when set (.ci/run starts one),
 * otherwise a redis-server of our own on a free port of 127.0.0.1 (installed
 * by scripts/ensure-system-deps.mjs, npm test's pretest: never skipped),
 * stopped by `stop()`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';

export interface TestRedis {
  readonly url: string;
  stop(): Promise<void>;
}

/** A TCP port of 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForRedis(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const r = new Redis(url, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    r.on('error', () => {});
    try {
      await r.connect();
      await r.ping();
      r.disconnect();
      return;
    } catch {
      r.disconnect();
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  throw new Error(`redis at ${url} did not come up`);
}

export async function startTestRedis(): Promise<TestRedis> {
  const shared = process.env.EEHSIM_TEST_REDIS;
  if (shared) {
    await waitForRedis(shared);
    return { url: shared, stop: async () => {} };
  }
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'eehsim-redis-'));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  const server: ChildProcess = spawn('redis-server', [...args, '--dir', dir], { stdio: 'ignore' });
  const failed = new Promise<never>((_, reject) =>
    server.on('error', (err) =>
      reject(
        new Error(
          `cannot start redis-server (run: node scripts/ensure-system-deps.mjs): ${err.message}`,
        ),
      ),
    ),
  );
  const url = `redis://127.0.0.1:${port}`;
  await Promise.race([waitForRedis(url), failed]);
  return {
    url,
    stop: async () => {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    },
  };
}
