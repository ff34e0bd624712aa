#!/usr/bin/env node
/**
 * The eehsim command line. `eehsim run default` runs the built-in default
 * scenario (what `npm start` does).
 */
import { Command } from 'commander';

const program = new Command();
program
  .name('eehsim')
  .description('Deterministic model of POWER EEH recovery for VFIO passthrough');

program
  .command('run')
  .argument('[scenario]', 'built-in scenario name or file', 'default')
  .option('--json', 'print the result object as JSON')
  .action((scenario: string, opts: { json?: boolean }) => {
    // Placeholder until the hardware demo lands (issue 3).
    const out = { scenario, status: 'not yet implemented' };
    console.log(opts.json ? JSON.stringify(out, null, 2) : `eehsim: ${scenario}: ${out.status}`);
  });

program.parseAsync(process.argv).catch((err: unknown) => {
  console.error(`eehsim: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(2);
});
