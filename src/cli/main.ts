#!/usr/bin/env node
/**
 * The eehsim command line. `eehsim run default` runs the built-in default
 * scenario (what `npm start` does). See program.ts and README `## Command line`.
 */
import { runCli } from './program.js';

const code = await runCli(process.argv.slice(2));
// Let pending output drain, then exit (worker threads / sockets may linger).
process.exitCode = code;
if (code !== 0 || ['campaign', 'worker'].includes(process.argv[2] ?? '')) {
  setImmediate(() => process.exit(code));
}
