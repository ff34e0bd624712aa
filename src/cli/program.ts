/**
 * The eehsim command line (commander). `runCli(argv, io)` runs one command
 * and resolves to its exit code; main.ts wires it to the process.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { CampaignFileError } from '../campaign/jsonl.js';
import { QueueError } from '../campaign/queue.js';
import { VaryError } from '../campaign/vary.js';
import { listBuiltins, ScenarioNotFound } from '../scenario/builtin.js';
import { ScenarioError } from '../scenario/load.js';
import { RunnerUnavailable, runnerNames, runners } from '../scenario/runner.js';
import { DESIGNS, scenarioJsonSchema } from '../scenario/schema/index.js';
import { CostError } from '../sim/costs.js';
import { TraceFileError } from '../trace/text.js';
import { cmdCampaign, cmdWorker } from './campaign.js';
import { cmdCompare } from './compare.js';
import { CliExit, type CliIo, EXIT, processIo, usage } from './io.js';
import { cmdReplay, cmdRun } from './run.js';

function version(): string {
  try {
    const pkg = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const EXIT_HELP = `
Exit codes:
  0    success (every expectation held; replay identical)
  1    an expectation failed (run) or the trace differs (replay)
  2    usage error or bad input (options, scenario file, trace file, queue URL)
  3    internal error (a bug: the model or eehsim threw)
  130  interrupted (Ctrl-C); a campaign keeps its finished runs (--resume)`;

function buildProgram(io: CliIo, setCode: (c: number) => void): Command {
  const program = new Command();
  program
    .name('eehsim')
    .description(
      'Deterministic model of POWER EEH (PCI error recovery) for VFIO passthrough devices in KVM guests',
    )
    .version(version(), '-V, --version')
    .exitOverride()
    .showSuggestionAfterError()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .addHelpText(
      'after',
      `
Examples:
  eehsim run default                       run the default scenario, print a summary
  eehsim run scenarios/two-guests.yaml --trace out.json   and write a Perfetto trace
  eehsim campaign default --runs 1000 --vary fault.at,fault.kind --out results.jsonl
  eehsim schema > eehsim.schema.json       JSON Schema for editor completion
${EXIT_HELP}`,
    );

  program
    .command('run')
    .description('run a scenario (a file, or the name of a built-in) and check its expectations')
    .argument('[scenario]', 'scenario file (YAML/JSON) or built-in name', 'default')
    .option('--json', 'print the result object as JSON')
    .option(
      '--trace <file>',
      'write the trace as Chrome Trace Event JSON (Perfetto, chrome://tracing)',
    )
    .option('--trace-text <file>', 'write the compact text trace (diffs, golden tests, replay)')
    .addOption(new Option('--design <design>', 'override the design').choices([...DESIGNS]))
    .option('--seed <n>', 'override the seed (with --vary: the seed of a campaign run)')
    .option('--vary <specs>', 'apply the variant of --seed, as a campaign with this --vary would')
    .addOption(
      new Option('--runner <name>', 'runner (default: the machine)').choices(runnerNames()),
    )
    .addHelpText(
      'after',
      `
Examples:
  eehsim run default
  eehsim run my.yaml --seed 7 --design a+notify --json
  eehsim run default --trace run.json --trace-text run.txt
  eehsim run default --vary fault.at,fault.kind --seed 123456   (reproduce a campaign run)

Exit codes: 0 all expectations held, 1 an expectation failed, 2 bad input, 3 internal error.`,
    )
    .action(async (scenario: string, opts) => setCode(await cmdRun(scenario, opts, io)));

  program
    .command('list')
    .description('list the built-in scenarios')
    .option('--json', 'as JSON')
    .action((opts: { json?: boolean }) => {
      const list = listBuiltins();
      if (opts.json) {
        io.out(`${JSON.stringify(list, null, 2)}\n`);
        return;
      }
      const w = Math.max(4, ...list.map((b) => b.name.length));
      for (const b of list) io.out(`${b.name.padEnd(w)}  ${b.description}\n`);
    });

  program
    .command('schema')
    .description('print the JSON Schema of scenario files (for editor completion)')
    .option('-o, --out <file>', 'write it to a file')
    .addHelpText(
      'after',
      '\nExample:\n  eehsim schema > eehsim.schema.json   then in a scenario: $schema: ./eehsim.schema.json',
    )
    .action((opts: { out?: string }) => {
      const text = `${JSON.stringify(scenarioJsonSchema(), null, 2)}\n`;
      if (opts.out) writeFileSync(opts.out, text);
      else io.out(text);
    });

  program
    .command('inspect')
    .description(
      "build a scenario's machine to the end of its set-up and print what it assigned: PHBs, PEs, devices, BARs, IOMMU groups, guests, BUIDs, guest addresses, RTAS tokens",
    )
    .argument('<scenario>', 'scenario file or built-in name')
    .option(
      '--json',
      'print { scenario (validated, defaults filled in, times in ns), machine (the assigned values) } as JSON',
    )
    .addHelpText(
      'after',
      `
The machine is built as \`eehsim run\` builds it (host boot, VMMs, guest
kernels), without starting workloads, faults or steps.

Examples:
  eehsim inspect default
  eehsim inspect my.yaml --json

Exit codes: 0 printed, 2 bad scenario file (line-numbered errors).`,
    )
    .action(async (ref: string, opts: { json?: boolean }) => {
      // Loaded here: the other commands do not need the model.
      const { cmdInspect } = await import('./inspect.js');
      cmdInspect(ref, opts, io);
    });

  program
    .command('replay')
    .description('re-run the scenario recorded in a trace file and diff the new trace against it')
    .argument('<trace>', 'a trace written by eehsim run --trace-text (or --trace)')
    .addOption(
      new Option('--runner <name>', 'runner (default: the one recorded)').choices(runnerNames()),
    )
    .option('--context <n>', 'lines of context around the first difference', '3')
    .addHelpText(
      'after',
      '\nExample:\n  eehsim run default --trace-text golden.txt && eehsim replay golden.txt\n\nExit codes: 0 identical, 1 the trace differs (first difference printed), 2 bad trace file.',
    )
    .action(async (file: string, opts) => setCode(await cmdReplay(file, opts, io)));

  program
    .command('campaign')
    .description(
      'run many variants of a scenario (in parallel, or on a Redis queue) and summarise them',
    )
    .argument('<scenario>', 'scenario file or built-in name')
    .requiredOption('-n, --runs <n>', 'number of runs')
    .option(
      '--vary <specs>',
      'what varies, comma-separated: fault.at[=1ms..50ms], fault.kind[=dma|mmio], fault.target, fault.count[=1..6], design[=d|a], driver, workload.kind, cost.<name>[=lo..hi]',
    )
    .option('--seed <n>', 'campaign seed (default: the scenario seed); run seeds derive from it')
    .option('-j, --jobs <n>', 'worker threads (default: one per core)')
    .option('--serial', 'run in this thread, one after the other')
    .option('-o, --out <file>', 'write one JSON line per finished run (JSONL)')
    .option('--resume', 'skip the runs already in --out (after Ctrl-C)')
    .option(
      '--queue <url>',
      'put the runs on a BullMQ queue in Redis (redis://host:port); run eehsim worker to process them',
    )
    .addOption(
      new Option('--runner <name>', 'runner (default: the machine)').choices(runnerNames()),
    )
    .option('--json', 'print the summary as JSON')
    .option('--no-progress', 'no progress bar / lines')
    .addHelpText(
      'after',
      `
Every run has its own seed, derived from the campaign seed and the run index;
the variant is a function of that seed, so any run is reproduced with
  eehsim run <scenario> --vary <same specs> --seed <run seed>
(the summary prints this command for failed runs).

Examples:
  eehsim campaign default --runs 1000 --vary fault.at,fault.kind --out results.jsonl
  eehsim campaign default --runs 1000 --vary fault.at,fault.kind --out results.jsonl --resume
  eehsim campaign default --runs 200 --vary design=d|a,driver --jobs 4 --json
  eehsim campaign default --runs 10000 --vary fault.at --queue redis://10.0.0.5:6379

Exit codes: 0 done (failed runs are results, not errors), 2 bad input, 130 interrupted.`,
    )
    .action(async (scenario: string, opts) => setCode(await cmdCampaign(scenario, opts, io)));

  program
    .command('worker')
    .description(
      'process campaign runs from a Redis queue (any number of workers, on any machines)',
    )
    .requiredOption('--queue <url>', 'Redis URL, redis://host:port')
    .option('-j, --jobs <n>', 'worker threads / concurrent runs (default: one per core)')
    .option('--idle-exit <duration>', 'exit after this long without work (e.g. 30s)')
    .addHelpText('after', '\nExample:\n  eehsim worker --queue redis://10.0.0.5:6379 --jobs 8')
    .action(async (opts) => setCode(await cmdWorker(opts, io)));

  program
    .command('compare')
    .description(
      'run a scenario once per design (same seed) and compare state-query cost, exits, recovery',
    )
    .argument('<scenario>', 'scenario file or built-in name')
    .option('--designs <list>', 'comma-separated designs', 'd,a,a-realmode,a-vfio')
    .option('--json', 'print the rows as JSON')
    .option('--svg <file>', 'also write the rows as an SVG chart')
    .addHelpText('after', '\nExample:\n  eehsim compare design-a --designs d,a,a-realmode')
    .action(async (scenario: string, opts) => setCode(await cmdCompare(scenario, opts, io)));

  for (const [name, what] of [['serve', 'dashboard']] as const) {
    program
      .command(name)
      .description(`(reserved: the ${what}, not yet available)`)
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => {
        throw usage(`${name}: not yet available (reserved for the ${what})`);
      });
  }

  program
    .command('runners', { hidden: true })
    .description('list the scenario runners and whether they are available')
    .action(async () => {
      for (const r of runners()) {
        const ok = (await r.load()) !== undefined;
        io.out(`${r.name.padEnd(10)} ${ok ? 'available  ' : 'not built  '} ${r.description}\n`);
      }
    });
  return program;
}

const BAD_INPUT = [
  ScenarioError,
  ScenarioNotFound,
  VaryError,
  CampaignFileError,
  QueueError,
  TraceFileError,
  CostError,
  RunnerUnavailable,
];

/** Runs one eehsim command; resolves to the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  let code: number = EXIT.OK;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  if (argv.length === 0) {
    io.err(program.helpInformation());
    return EXIT.USAGE;
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (
        err.code === 'commander.helpDisplayed' ||
        err.code === 'commander.version' ||
        err.code === 'commander.help'
      ) {
        return EXIT.OK;
      }
      return EXIT.USAGE; // commander already printed the message
    }
    if (err instanceof CliExit) {
      io.err(`eehsim: ${err.message}\n`);
      return err.code;
    }
    if (err instanceof ScenarioError) {
      io.err(`${err.message}\n`);
      return EXIT.USAGE;
    }
    if (BAD_INPUT.some((C) => err instanceof C)) {
      io.err(`eehsim: ${(err as Error).message}\n`);
      return EXIT.USAGE;
    }
    const e = err instanceof Error ? err : new Error(String(err));
    io.err(
      `eehsim: internal error: ${e.message}\n${process.env.EEHSIM_DEBUG ? `${e.stack}\n` : '(set EEHSIM_DEBUG=1 for the stack trace)\n'}`,
    );
    return EXIT.INTERNAL;
  }
}
