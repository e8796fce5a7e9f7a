// What every `daxfs` subcommand provides, so main.ts can dispatch and print help alike.
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** The full help: usage line first, then options and an example. */
  help: string;
  /** Returns the exit code: 0 ok, 1 failed, 2 usage (usage errors are thrown as UsageError). */
  run(argv: string[]): number;
}

/** Prints a table with columns padded to their widest cell; numbers align right. */
export function table(rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r, n) => r.map((cell, i) => {
    const right = n > 0 && /^[\d.]+( \w+|%)?$/.test(cell);
    return right ? cell.padStart(widths[i]) : cell.padEnd(widths[i]);
  }).join('  ').trimEnd()).join('\n');
}
