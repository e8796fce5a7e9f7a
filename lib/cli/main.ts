// The `daxfs` command.
import { demo } from './demo';
import { formatInfo, gatherInfo } from './info';

const USAGE = `Usage: daxfs <command> [options]

Commands:
  info [--json]   what the CPU and the system offer: flush, fence, eADR, pmem devices, DAX mounts
  demo            map an emulated pmem file, write and persist a record, time it, clean up

Options:
  -h, --help      show this help

Exit codes: 0 ok, 1 the operation failed, 2 usage.`;

export function main(argv: string[]): number {
  const [command, ...rest] = argv;
  if (!command || command === '-h' || command === '--help' || command === 'help') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  try {
    switch (command) {
      case 'info':
        if (rest.some((a) => a !== '--json')) break;
        console.log(rest.includes('--json') ? JSON.stringify(gatherInfo(), null, 2) : formatInfo(gatherInfo()));
        return 0;
      case 'demo':
        if (rest.length) break;
        demo();
        return 0;
      default:
        console.error(`daxfs: unknown command '${command}'`);
        console.error(USAGE);
        return 2;
    }
  } catch (err) {
    const e = err as Error & { code?: string };
    console.error(`daxfs ${command}: ${e.message}`);
    return 1;
  }
  console.error(`daxfs ${command}: unexpected arguments: ${rest.join(' ')}`);
  console.error(USAGE);
  return 2;
}
