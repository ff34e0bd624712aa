#!/usr/bin/env node
// Makes sure the system parts the test suite needs are installed (run as the
// `pretest` step). Missing parts are installed with apt-get when running as
// root; otherwise the one command to run is printed and the tests stop -
// a test is never skipped silently because its tool is missing.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

/** What the tests need: a check and the Debian packages that satisfy it. */
const REQUIREMENTS = [
  {
    what: 'C compiler (ABI conformance test)',
    ok: () => hasCommand('cc'),
    packages: ['gcc', 'libc6-dev'],
  },
  {
    what: '<linux/vfio.h> and <linux/kvm.h> (ABI conformance test)',
    ok: () => existsSync('/usr/include/linux/vfio.h') && existsSync('/usr/include/linux/kvm.h'),
    packages: ['linux-libc-dev'],
  },
  {
    // The model stands for a POWER host: the ABI test also checks the powerpc
    // request numbers (a different _IOC encoding) and the powerpc-only
    // <asm/kvm.h> / <asm/eeh.h> definitions against these headers.
    what: 'powerpc uapi headers <asm/kvm.h>, <asm/eeh.h> (ABI conformance test)',
    ok: () =>
      existsSync('/usr/powerpc64le-linux-gnu/include/asm/kvm.h') &&
      existsSync('/usr/powerpc64le-linux-gnu/include/asm/eeh.h'),
    packages: ['linux-libc-dev-ppc64el-cross'],
  },
  {
    // test/campaign/redis.test.ts runs campaigns through BullMQ against a
    // real Redis (.ci/run starts one; the test starts its own otherwise).
    what: 'redis-server (campaigns on a Redis queue)',
    ok: () => hasCommand('redis-server'),
    packages: ['redis-server'],
  },
];

function hasCommand(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

const missing = REQUIREMENTS.filter((r) => !r.ok());
if (missing.length === 0) process.exit(0);

const packages = [...new Set(missing.flatMap((r) => r.packages))];
const command = `apt-get update && apt-get install -y --no-install-recommends ${packages.join(' ')}`;
for (const r of missing) console.error(`eehsim: missing ${r.what}`);

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
if (!isRoot || !hasCommand('apt-get')) {
  console.error(`eehsim: install them first (as root):\n  ${command}`);
  process.exit(1);
}
console.error(`eehsim: installing ${packages.join(' ')} with apt-get`);
const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
execFileSync('sh', ['-c', command], { stdio: ['ignore', 'inherit', 'inherit'], env });
const still = REQUIREMENTS.filter((r) => !r.ok());
if (still.length > 0) {
  console.error(`eehsim: still missing after install: ${still.map((r) => r.what).join('; ')}`);
  process.exit(1);
}
