// Runs the `daxfs` command in this process (starting node per command is slow on small
// machines) and captures what it prints and its exit status.
import { main } from '../../lib/cli/main';

export interface Run { status: number; stdout: string; stderr: string; bytes: Buffer }

export function daxfs(...argv: string[]): Run {
  const out: Buffer[] = [];
  const err: string[] = [];
  const log = jest.spyOn(console, 'log').mockImplementation((...a: unknown[]) => { out.push(Buffer.from(`${a.join(' ')}\n`)); });
  const error = jest.spyOn(console, 'error').mockImplementation((...a: unknown[]) => { err.push(`${a.join(' ')}\n`); });
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out.push(Buffer.from(chunk));
    return true;
  });
  try {
    const status = main(argv);
    const bytes = Buffer.concat(out);
    return { status, stdout: bytes.toString(), stderr: err.join(''), bytes };
  } finally {
    log.mockRestore();
    error.mockRestore();
    write.mockRestore();
  }
}
