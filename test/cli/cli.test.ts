import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readCampaignFile } from '../../src/campaign/jsonl.js';
import { runCli } from '../../src/cli/program.js';
import { Machine } from '../../src/machine/machine.js';
import { loadScenario } from '../../src/scenario/builtin.js';
import { registerRunner } from '../../src/scenario/runner.js';
import { validateChromeTrace } from '../../src/trace/validate.js';
import { formatBdf } from '../../src/uapi/ids.js';

const dir = mkdtempSync(join(tmpdir(), 'eehsim-cli-'));

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli(argv, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    progress: { write: () => true, isTTY: false } as unknown as NodeJS.WritableStream,
    signals: false,
  });
  return { code, out, err };
}

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const FAILING = `
name: failing
topology:
  phbs:
    - id: 0
      devices:
        - { name: nic0, model: testnic, bdf: "00:01.0" }
guests:
  - name: vm0
    phbs: [{ devices: [{ device: nic0, driver: slot-reset-fails }] }]
workloads:
  - { kind: dma-pingpong, guest: vm0, device: nic0 }
faults:
  - { kind: dma, target: nic0, at: 1ms }
run_for: 5s
expect:
  recovered: [nic0]
`;

describe('eehsim run', () => {
  it('exits 0 when every expectation holds, with a summary', async () => {
    const r = await cli('run', 'default', '--runner', 'synthetic');
    expect(r.code).toBe(0);
    expect(r.out).toContain('eehsim: scenario default (runner synthetic, design d, seed 1)');
    expect(r.out).toMatch(/nic0\s+vm0\s+recovered/);
    expect(r.out).toContain('expectations: 3/3 ok');
  });

  it('exits 1 and says which expectation failed and why', async () => {
    const r = await cli('run', file('failing.yaml', FAILING), '--runner', 'synthetic');
    expect(r.code).toBe(1);
    expect(r.out).toContain('expectations: 0/1 ok, 1 FAILED');
    expect(r.out).toContain('FAIL  recovered nic0: got failed (slot_reset returned DISCONNECT)');
  });

  it('prints the result as JSON', async () => {
    const r = await cli('run', file('failing2.yaml', FAILING), '--runner', 'synthetic', '--json');
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ scenario: 'failing', runner: 'synthetic', ok: false });
    expect(j.result.devices[0]).toMatchObject({ device: 'nic0', status: 'failed' });
    expect(j.expectations[0]).toMatchObject({ name: 'recovered nic0', ok: false });
  });

  it('applies --seed and --design', async () => {
    const r = await cli(
      'run',
      'default',
      '--runner',
      'synthetic',
      '--json',
      '--seed',
      '42',
      '--design',
      'a+notify',
    );
    expect(JSON.parse(r.out)).toMatchObject({
      seed: 42,
      design: 'a+notify',
      result: { seed: 42, design: 'a+notify' },
    });
  });

  it('exits 2 on a bad scenario file, with field path and line', async () => {
    const r = await cli(
      'run',
      file('bad.yaml', 'name: x\nseed: -3\ntopology: {phbs: []}\n'),
      '--runner',
      'synthetic',
    );
    expect(r.code).toBe(2);
    expect(r.err).toContain('bad.yaml:2:7: seed: -3 is negative');
    expect(r.err).toContain('bad.yaml:3:18: topology.phbs: the topology needs at least one PHB');
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('exits 2 on usage errors', async () => {
    expect((await cli('run', 'nope')).code).toBe(2);
    expect((await cli('run', 'default', '--seed', 'x')).code).toBe(2);
    expect((await cli('run', 'default', '--design', 'z')).code).toBe(2);
    expect((await cli('run', 'default', '--bogus')).code).toBe(2);
    expect((await cli('run', 'default', '--vary', 'fault.at')).err).toContain(
      '--vary needs --seed',
    );
    expect((await cli('frobnicate')).code).toBe(2);
    expect((await cli()).code).toBe(2);
  });

  it('runs every scenario on the end-to-end machine (the hardware demo only on request)', async () => {
    const other = JSON.parse((await cli('run', 'two-guests', '--json')).out);
    expect(other).toMatchObject({ runner: 'machine', ok: true });
    const def = JSON.parse((await cli('run', 'default', '--json')).out);
    expect(def).toMatchObject({ runner: 'machine', ok: true });
    expect(def.result.devices[0]).toMatchObject({ device: 'nic0', status: 'recovered' });
    const demo = JSON.parse((await cli('run', 'default', '--json', '--runner', 'hw-demo')).out);
    expect(demo.runner).toBe('hw-demo');
  });

  it('exits 3 when the runner throws (internal error), without a stack trace', async () => {
    registerRunner({
      name: 'test-throws',
      description: 'throws',
      load: async () => () => {
        throw new Error('boom');
      },
    });
    const r = await cli('run', 'default', '--runner', 'test-throws');
    expect(r.code).toBe(3);
    expect(r.err).toContain(
      "internal error: runner 'test-throws' failed on scenario default: boom",
    );
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('writes a valid Chrome trace and a text trace that replays identically', async () => {
    const json = join(dir, 't.json');
    const text = join(dir, 't.txt');
    const r = await cli(
      'run',
      'default',
      '--runner',
      'synthetic',
      '--trace',
      json,
      '--trace-text',
      text,
    );
    expect(r.code).toBe(0);
    const trace = JSON.parse(readFileSync(json, 'utf8'));
    expect(validateChromeTrace(trace)).toEqual([]);
    const threads = trace.traceEvents.filter((e: { name: string }) => e.name === 'thread_name');
    expect(new Set(threads.map((e: { args: { name: string } }) => e.args.name))).toEqual(
      new Set([
        'sim',
        'hw',
        'firmware',
        'host',
        'vfio',
        'kvm',
        'vmm',
        'guest',
        'design',
        'scenario',
      ]),
    );
    expect(await cli('replay', text)).toMatchObject({
      code: 0,
      out: expect.stringContaining('identical'),
    });
    expect((await cli('replay', json)).code).toBe(0);

    // A tampered trace: exit 1 and the first differing line with context.
    const lines = readFileSync(text, 'utf8').split('\n');
    const i = lines.findIndex((l) => l.includes('hw.pe.freeze'));
    lines[i] = (lines[i] as string).replace('kind=dma', 'kind=mmio');
    writeFileSync(text, lines.join('\n'));
    const d = await cli('replay', text);
    expect(d.code).toBe(1);
    expect(d.out).toContain(`first difference at line ${i + 1}`);
    expect(d.out).toMatch(/- .*hw\.pe\.freeze.*kind=mmio.*\n\+ .*hw\.pe\.freeze.*kind=dma/);
  });

  it('replay exits 2 on a file that is not an eehsim trace', async () => {
    expect((await cli('replay', file('x.txt', 'hello'))).code).toBe(2);
    expect((await cli('replay', file('x.json', '{"traceEvents":[]}'))).err).toContain(
      'not written by eehsim',
    );
    expect((await cli('replay', join(dir, 'missing.txt'))).code).toBe(2);
  });
});

describe('other commands', () => {
  it('list shows the built-ins', async () => {
    const r = await cli('list');
    expect(r.code).toBe(0);
    expect(r.out.split('\n')[0]).toMatch(/^default\s+One guest/);
  });
  it('schema prints the JSON Schema', async () => {
    const r = await cli('schema');
    expect(JSON.parse(r.out)).toMatchObject({ title: 'eehsim scenario', type: 'object' });
  });
  it('inspect prints the topology tree of the built machine', async () => {
    const r = await cli('inspect', 'two-guests');
    expect(r.code).toBe(0);
    expect(r.out).toContain('0000:00:02.0 testnic nic1 -> vm1 (vfio-pci), IOMMU group 1');
    // Each guest's first virtual PHB has index 0: both get QEMU's base BUID.
    expect(r.out.match(/vPHB 0 BUID 0x800000020000000,/g)).toHaveLength(2);
    expect((await cli('inspect', file('b.yaml', 'name: [1'))).code).toBe(2);
  });
  for (const name of ['default', 'tour']) {
    it(`inspect ${name}: the PE numbers and guest addresses the machine has`, async () => {
      const text = await cli('inspect', name);
      const json = await cli('inspect', name, '--json');
      expect(text.code).toBe(0);
      expect(json.code).toBe(0);
      const j = JSON.parse(json.out);
      expect(j.scenario.name).toBe(name);
      // The machine `eehsim run` builds, booted (faults come later).
      const m = new Machine(loadScenario(name).scenario, { trace: false });
      m.sim.run(m.t0 + 2_000_000);
      for (const phb of m.hw.phbs) {
        const jp = j.machine.phbs.find((p: { id: number }) => p.id === phb.id);
        expect(jp.pes.map((pe: { number: number }) => pe.number)).toEqual(
          phb.pes().map((pe) => pe.number),
        );
        for (const pe of phb.pes()) {
          const parent = pe.parent ? `, parent PE ${pe.parent.number}` : '';
          expect(text.out).toContain(`PE ${pe.number} (${pe.kind} PE${parent}, `);
          for (const fn of pe.functions) {
            const address = `${phb.id.toString(16).padStart(4, '0')}:${formatBdf(fn.bdf)}`;
            expect(text.out).toContain(`${address} ${fn.model}`);
            const pdev = m.host.device(address);
            expect(pdev?.peNumber).toBe(pe.number);
            for (const b of pdev?.hostResources ?? [])
              expect(text.out).toContain(`BAR${b.index} 0x${b.start.toString(16)}-`);
          }
        }
      }
      for (const g of m.guests) {
        for (const pt of g.passthrough) {
          const seen = g.kernel.kernel.device(pt.guestAddress);
          expect(seen?.peAddr).toBe((pt.dev.bus << 16) + 1);
          expect(text.out).toContain(
            `BUID 0x${pt.phb.buid.toString(16)}, LIOBN 0x${pt.phb.liobn.toString(16)}`,
          );
          expect(text.out).toContain(
            `${pt.guestAddress} ${pt.ref} (host ${pt.hostAddress}), config address 0x${pt.dev.configAddr.toString(16)}, PE address 0x${seen?.peAddr.toString(16)}`,
          );
          for (const b of pt.dev.bars)
            expect(text.out).toContain(
              `BAR${b.index} 0x${b.gpa.toString(16)}-0x${(b.gpa + b.size - 1).toString(16)}`,
            );
          const jd = j.machine.guests
            .find((x: { name: string }) => x.name === g.name)
            .phbs.flatMap((p: { devices: unknown[] }) => p.devices)
            .find((d: { host: string }) => d.host === pt.hostAddress);
          expect(jd).toMatchObject({
            address: pt.guestAddress,
            configAddr: pt.dev.configAddr,
            peAddr: seen?.peAddr,
          });
        }
        const tokens = g.vmm.deviceTree?.rtasTokens ?? {};
        expect(text.out).toContain(
          `ibm,read-slot-reset-state2 0x${tokens['ibm,read-slot-reset-state2']?.toString(16)}`,
        );
      }
    });
  }
  it('inspect default: the values a reader checks by hand', async () => {
    const r = await cli('inspect', 'default');
    expect(r.out).toContain('PE 1 (device PE, automatic, DMA window 1 GiB)');
    expect(r.out).toContain('0000:00:01.0 testnic nic0 -> vm0 (vfio-pci), IOMMU group 0');
    expect(r.out).toContain(
      '0000:00:00.0 nic0 (host 0000:00:01.0), config address 0x0, PE address 0x1',
    );
    expect(r.out).toContain('ibm,read-slot-reset-state2 0x2022');
  });
  it('inspect exits 2 with line-numbered errors, from the loader and from the machine', async () => {
    const bad = await cli(
      'inspect',
      file('bad-inspect.yaml', 'name: x\nseed: -3\ntopology: {phbs: []}\n'),
    );
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('bad-inspect.yaml:2:7: seed: -3 is negative');
    const buid = await cli(
      'inspect',
      file(
        'bad-buid.yaml',
        `name: bad-buid
topology:
  phbs:
    - id: 0
      devices: [{ name: nic0, model: testnic, bdf: "00:01.0" }]
guests:
  - name: vm0
    phbs:
      - buid: 0x100
        devices: [{ device: nic0 }]
`,
      ),
    );
    expect(buid.code).toBe(2);
    expect(buid.err).toMatch(
      /bad-buid\.yaml:9:15: guests\[0\]\.phbs\[0\]\.buid: BUID 0x100 is not/,
    );
    expect(buid.err).not.toMatch(/\n\s+at /);
  });
  it('serve is reserved', async () => {
    for (const c of ['serve']) {
      const r = await cli(c, 'x');
      expect(r.code).toBe(2);
      expect(r.err).toContain('not yet available');
    }
  });
  it('help and version exit 0; help texts carry examples and exit codes', async () => {
    const h = await cli('--help');
    expect(h.code).toBe(0);
    expect(h.out).toContain('Exit codes:');
    const rh = await cli('run', '--help');
    expect(rh.out).toContain('Examples:');
    expect((await cli('campaign', '--help')).out).toContain('--resume');
    expect((await cli('--version')).code).toBe(0);
  });
  it('campaign validates its options (exit 2)', async () => {
    expect((await cli('campaign', 'default')).code).toBe(2); // --runs missing
    expect((await cli('campaign', 'default', '--runs', '0', '--runner', 'synthetic')).code).toBe(2);
    expect(
      (
        await cli(
          'campaign',
          'default',
          '--runs',
          '5',
          '--vary',
          'fault.nope',
          '--runner',
          'synthetic',
        )
      ).err,
    ).toContain("unknown --vary dimension 'fault.nope'");
    expect(
      (await cli('campaign', 'default', '--runs', '5', '--resume', '--runner', 'synthetic')).code,
    ).toBe(2);
    expect(
      (
        await cli(
          'campaign',
          'default',
          '--runs',
          '5',
          '--queue',
          'http://x',
          '--runner',
          'synthetic',
        )
      ).code,
    ).toBe(2);
  });
  it('campaign runs serially and prints the summary with reproduce commands', async () => {
    const out = join(dir, 'c.jsonl');
    const r = await cli(
      'campaign',
      'default',
      '--runs',
      '20',
      '--vary',
      'fault.kind=dma|mmio,driver=full|slot-reset-fails',
      '--serial',
      '--runner',
      'synthetic',
      '--out',
      out,
      '--seed',
      '5',
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/runs: 20 {2}recovered \d+ {2}failed \d+/);
    expect(r.out).toContain(
      'e.g. eehsim run default --vary fault.kind=dma|mmio,driver=full|slot-reset-fails --seed',
    );
    expect(readFileSync(out, 'utf8').trim().split('\n')).toHaveLength(21);
    // the printed command reproduces the failed run
    const seed =
      /slot_reset returned DISCONNECT\n\s+e\.g\. eehsim run default --vary (\S+) --seed (\d+)/.exec(
        r.out,
      );
    expect(seed).not.toBeNull();
    const rep = await cli(
      'run',
      'default',
      '--vary',
      seed![1]!,
      '--seed',
      seed![2]!,
      '--runner',
      'synthetic',
      '--json',
    );
    expect(rep.code).toBe(1);
    expect(JSON.parse(rep.out).result.devices[0]).toMatchObject({
      status: 'failed',
      cause: 'slot_reset returned DISCONNECT',
    });
  });
});

describe('the eehsim process', () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], {
      encoding: 'utf8',
    });
  it('exits with the documented codes', () => {
    const ok = run('run', 'default', '--runner', 'synthetic');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('expectations: 3/3 ok');
    const bad = run('run', join(dir, 'bad.yaml'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('seed: -3 is negative');
    expect(run('run', join(dir, 'failing.yaml'), '--runner', 'synthetic').status).toBe(1);
  });
});

describe('Ctrl-C on a campaign', () => {
  it('keeps the finished runs (exit 130) and --resume completes the campaign', async () => {
    const out = join(dir, 'int.jsonl');
    const args = [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'campaign',
      'default',
      '--vary',
      'fault.at,driver',
    ];
    const common = ['--serial', '--runner', 'synthetic', '--out', out, '--no-progress'];
    const child = spawn(process.execPath, [...args, '--runs', '1000000', ...common], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    // Wait until some runs are on disk, then interrupt.
    for (let i = 0; i < 200; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (existsSync(out) && readFileSync(out, 'utf8').split('\n').length > 50) break;
    }
    child.kill('SIGINT');
    const code = await new Promise<number | null>((r) => child.on('exit', r));
    expect(code).toBe(130);
    expect(stderr).toContain('continue with the same command and --resume');
    const kept = readCampaignFile(out).records;
    expect(kept.length).toBeGreaterThan(49);
    expect(kept.length).toBeLessThan(1_000_000);
    // resume (the same campaign, here extended to kept + 20 runs) runs only the missing ones
    const runs = kept.length + 20;
    const r = spawnSync(
      process.execPath,
      [...args, '--runs', String(runs), ...common, '--resume', '--json'],
      {
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`campaign: 20 runs in`);
    expect(JSON.parse(r.stdout).summary.runs).toBe(runs);
    expect(
      readCampaignFile(out)
        .records.map((x) => x.index)
        .sort((a, b) => a - b),
    ).toEqual([...Array(runs).keys()]);
  }, 60_000);
});
