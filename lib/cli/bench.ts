// `daxfs bench`: runs the benchmark suite shipped in the package (bench/run.js) and, with
// --plot, draws its 4 KiB durable-write latencies as an SVG. The suite runs as a child
// process: it starts its own children with DAXFS_FORCE_PMEM set before the addon loads.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs, UsageError } from './args';
import { Command } from './command';
import { at } from './report';
import { BenchResults, latencyPlot, plotSvg } from './plot';

/** bench/run.js, from lib/cli (ts-jest) or dist/cli (the package): both two levels down. */
export const BENCH_SCRIPT = path.resolve(__dirname, '..', '..', 'bench', 'run.js');

const HELP = `Usage: daxfs bench [--quick] [--plot FILE.svg] [--no-fs] [--no-peer] [--save FILE.json]

Runs the benchmark suite that ships with daxfs and prints its table: persist() and copy()
against libpmem from C, daxfs's filesystem against node:fs, a durable 4 KiB write against
fs.writeSync + fdatasync. Without pmem it runs on emulated pmem (a file in /dev/shm, DRAM):
the figures then measure the code path, not durability, and say so.

The C peer (libpmem) is built from bench/peers/pmem_peer.c on the first run; when
libpmem-dev or a C compiler is missing the bench says so and runs everything else.

Options:
  --quick           one short round (about 10-30 s) instead of three (a few minutes)
  --plot FILE.svg   also draw the 4 KiB durable-write latencies (daxfs, libpmem,
                    node:fs + fdatasync) as a bar chart on a log scale
  --no-fs           skip the filesystem and file-mapping cases (the slowest part)
  --no-peer         do not build or run the libpmem peer
  --save FILE.json  keep every figure of the run as JSON

Example:
  daxfs bench --quick --plot latency.svg`;

export const benchCommand: Command = {
  name: 'bench',
  summary: 'run the benchmark suite (vs libpmem and node:fs); --plot draws an SVG',
  help: HELP,
  run(argv) {
    const args = parseArgs(argv, {
      flags: { '--quick': 'quick', '--no-fs': 'no-fs', '--no-peer': 'no-peer' },
      values: { '--plot': 'plot', '--save': 'save' },
      max: 0,
    });
    const plot = args.values.get('plot');
    if (plot !== undefined && !plot.endsWith('.svg')) throw new UsageError(`--plot '${plot}': the picture is an SVG, name it FILE.svg`);
    if (!fs.existsSync(BENCH_SCRIPT)) {
      throw new Error(`the benchmark suite is missing (${BENCH_SCRIPT}): reinstall daxfs, or run from its repository`);
    }
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-bench-'));
    try {
      const save = args.values.get('save');
      const out = save !== undefined ? path.resolve(save) : path.join(tmp, 'results.json');
      const childArgs = [BENCH_SCRIPT, '--out', out];
      for (const flag of ['quick', 'no-fs', 'no-peer']) if (args.flags.has(flag)) childArgs.push(`--${flag}`);
      // The table goes straight to our stdout as the suite prints it (it takes a while).
      const r = spawnSync(process.execPath, childArgs, { stdio: 'inherit' });
      if (r.error) throw r.error;
      if (r.status !== 0) {
        console.error(`daxfs bench: the benchmark suite failed (exit ${r.status ?? r.signal}); its message is above`);
        return 1;
      }
      if (save === undefined) console.log('(that JSON was temporary: --save FILE.json keeps the figures)');
      if (plot !== undefined) {
        const results = JSON.parse(fs.readFileSync(out, 'utf8')) as BenchResults;
        at(plot, () => fs.writeFileSync(plot, plotSvg(latencyPlot(results))));
        console.log(`plot: ${plot}`);
      }
      return 0;
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  },
};
