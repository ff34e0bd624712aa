/**
 * Exit codes and the output channels of the eehsim command (injectable, so
 * tests run the command in process).
 */

/** Exit codes, as documented in the README (`## Command line`). */
export const EXIT = {
  /** Success; every expectation held; replay identical. */
  OK: 0,
  /** An expectation failed (run), the trace differs (replay). */
  FAILED: 1,
  /** Usage error or bad input: unknown option, bad scenario file, bad trace file, unreachable queue. */
  USAGE: 2,
  /** Internal error: a bug in eehsim or in the model (the runner threw). */
  INTERNAL: 3,
  /** Interrupted by Ctrl-C (campaign, worker); finished results are kept. */
  INTERRUPTED: 130,
} as const;

export interface CliIo {
  /** Standard output (results). */
  out(text: string): void;
  /** Standard error (diagnostics, progress). */
  err(text: string): void;
  /** Where progress bars go (a TTY gets a bar, anything else plain lines). */
  progress: NodeJS.WritableStream & { isTTY?: boolean };
  /** Install SIGINT handlers (off in tests). */
  signals: boolean;
}

export const processIo: CliIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  progress: process.stderr,
  signals: true,
};

/** An expected failure with its exit code and message (no stack trace). */
export class CliExit extends Error {
  override name = 'CliExit';
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

export const usage = (message: string): CliExit => new CliExit(EXIT.USAGE, message);
