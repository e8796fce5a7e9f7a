// `daxfs demo`: the main job on the embedded default, an emulated pmem file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { mapFile } from '../pmem';
import { formatInfo, gatherInfo } from './info';

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(runs: number, fn: (i: number) => void): number {
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn(i);
    samples.push(Number(process.hrtime.bigint() - t));
  }
  return median(samples);
}

function formatNs(ns: number): string {
  return ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e3 ? `${(ns / 1e3).toFixed(2)} us` : `${ns.toFixed(0)} ns`;
}

export function demo(log: (line: string) => void = console.log): void {
  log(formatInfo(gatherInfo()));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'daxfs-demo-'));
  try {
    const file = path.join(dir, 'demo.pmem');
    const size = 16 << 20;
    const m = mapFile(file, { create: true, size });
    const emulated = m.kind === 'file';
    log('');
    log(`Mapped ${file}: ${size >> 20} MiB, kind ${m.kind}, isPmem ${m.isPmem}, granularity ${m.granularity}`);
    if (emulated) {
      log(m.isPmem
        ? '  emulated pmem (DAXFS_FORCE_PMEM on ordinary memory): the flushes run, but nothing here survives a power loss'
        : '  an ordinary file: persist() uses msync');
    }
    const record = Buffer.alloc(4096, 0x61);
    record.write(`daxfs demo record written at ${new Date().toISOString()}\n`);
    const ns = time(200, (i) => m.copy((i % 64) * 4096, record));
    m.copy(0, record);
    m.close();
    const back = fs.readFileSync(file).subarray(0, 64).toString().split('\n')[0];
    log(`Wrote and persisted a 4 KiB record with copy(): median ${formatNs(ns)} over 200 writes`);
    log(`Read back through node:fs after close(): "${back}"`);

    const plain = path.join(dir, 'plain.log');
    const fd = fs.openSync(plain, 'w');
    const fsNs = time(20, (i) => { fs.writeSync(fd, record, 0, record.length, (i % 64) * 4096); fs.fdatasyncSync(fd); });
    fs.closeSync(fd);
    log(`Same record with fs.writeSync + fs.fdatasyncSync on ${os.tmpdir()}: median ${formatNs(fsNs)}` +
      (emulated ? ' (the daxfs figure is emulated pmem: it measures the code path, not durability)' : ''));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
    log(`Removed ${dir}`);
  }
}
