// The `daxfs` command: finds the subcommand and runs it; every command lives in its own file.
import { dfCommand, fsckCommand, mkfsCommand } from './admin';
import { benchCommand } from './bench';
import { Command } from './command';
import { cpCommand } from './copy';
import { demoCommand } from './demo';
import { catCommand, lsCommand, mkdirCommand, rmCommand, statCommand } from './files';
import { infoCommand } from './info';
import { UsageError } from './args';
import { report } from './report';

const COMMANDS: Command[] = [
  infoCommand, demoCommand, benchCommand, mkfsCommand, fsckCommand, dfCommand,
  lsCommand, statCommand, catCommand, cpCommand, mkdirCommand, rmCommand,
];

function usage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: daxfs <command> [options]

A path inside an image is written IMAGE:/path (IMAGE is an image file or a device-DAX
node), as scp writes remote paths; a plain path is the host's.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

'daxfs help <command>' or 'daxfs <command> --help' tells more.
Exit status: 0 ok, 1 the operation failed, 2 usage.`;
}

function find(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

let pipeHandled = false;

export function main(argv: string[]): number {
  if (!pipeHandled) {
    pipeHandled = true;
    // 'daxfs cat IMAGE:/f | head' closes the pipe early; that is not an error.
    process.stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
      throw e;
    });
  }
  const [name, ...rest] = argv;
  if (name === undefined) {
    console.error(usage());
    return 2;
  }
  if (name === '-h' || name === '--help') {
    console.log(usage());
    return 0;
  }
  if (name === 'help') {
    if (rest.length === 0) {
      console.log(usage());
      return 0;
    }
    const command = find(rest[0]);
    if (!command || rest.length > 1) return report('help', new UsageError(command ? `unexpected argument '${rest[1]}'` : `unknown command '${rest[0]}'`));
    console.log(command.help);
    return 0;
  }
  const command = find(name);
  if (!command) {
    console.error(`daxfs: unknown command '${name}'`);
    console.error(usage());
    return 2;
  }
  const options = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (options.includes('--help') || options.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    return command.run(rest);
  } catch (e) {
    return report(command.name, e);
  }
}
