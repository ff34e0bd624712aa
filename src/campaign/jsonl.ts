/**
 * The campaign's JSONL file: a header line naming the campaign, then one
 * line per finished run, written with a synchronous write each (so a line
 * is on disk as soon as its run finished, and Ctrl-C loses nothing).
 * `--resume` reads it back and skips the runs already there.
 */
import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { RunRecord } from './record.js';

export interface CampaignHeader {
  id: string;
  scenario: string;
  ref: string;
  vary: string;
  seed: number;
  runner: string;
  runs: number;
}

export class CampaignFileError extends Error {
  override name = 'CampaignFileError';
}

/** Reads an existing campaign file: its header and records (a torn last line is ignored). */
export function readCampaignFile(path: string): { header: CampaignHeader; records: RunRecord[] } {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  // The last element is '' after a final newline, or a torn line: drop it.
  const complete = lines.slice(0, -1);
  const first = complete[0];
  if (first === undefined) throw new CampaignFileError(`${path}: empty campaign file`);
  let header: CampaignHeader;
  try {
    header = (JSON.parse(first) as { campaign: CampaignHeader }).campaign;
  } catch {
    throw new CampaignFileError(`${path}:1: not a campaign file (bad header line)`);
  }
  if (!header || typeof header.id !== 'string') {
    throw new CampaignFileError(`${path}:1: not a campaign file (no campaign header)`);
  }
  const records: RunRecord[] = [];
  complete.slice(1).forEach((line, i) => {
    if (!line.trim()) return;
    try {
      records.push(JSON.parse(line) as RunRecord);
    } catch {
      throw new CampaignFileError(`${path}:${i + 2}: not a JSON record`);
    }
  });
  return { header, records };
}

export class CampaignWriter {
  private fd: number;

  private constructor(fd: number) {
    this.fd = fd;
  }

  /** Starts a new file (truncating) with the header. */
  static create(path: string, header: CampaignHeader): CampaignWriter {
    const w = new CampaignWriter(openSync(path, 'w'));
    w.line({ campaign: header });
    return w;
  }

  /** Appends to an existing file, dropping a torn last line. */
  static append(path: string): CampaignWriter {
    const text = existsSync(path) ? readFileSync(path, 'utf8') : '';
    const fd = openSync(path, 'r+');
    if (!text.endsWith('\n'))
      ftruncateSync(fd, Buffer.byteLength(text.slice(0, text.lastIndexOf('\n') + 1)));
    closeSync(fd);
    return new CampaignWriter(openSync(path, 'a'));
  }

  line(obj: unknown): void {
    writeSync(this.fd, `${JSON.stringify(obj)}\n`);
  }

  close(): void {
    closeSync(this.fd);
  }
}
