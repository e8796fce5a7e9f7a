// What the image fuzzer does with one damaged image, in a child process: fsck, mount
// read-only and read-write, walk the tree (a bounded number of steps, so a directory cycle
// cannot hang the walk), read every file, write to one, fault a page of a mapping (the
// read-write mount is without DAX, through the page cache, when `dax` is false), unmount,
// fsck with repair and fsck again. Every failure is recorded by its code; a failure whose
// code is not in `allowed` (or that has none) is a finding, with its stack.
//
// The function is sent to the child as source text (Function.prototype.toString), so it
// must not use anything from outside its parameters.

export interface ExerciseResult {
  fsck: 'clean' | 'problems' | string;     // a code when fsck itself failed
  mounted: boolean;                          // the read-write mount succeeded
  refused: string | null;                    // the code the read-write mount failed with
  repairedClean: boolean;                    // fsck after fsck --repair was clean
  codes: Record<string, number>;             // every coded failure, by step:code
  findings: string[];                        // failures that are not an allowed coded error
  steps: number;
}

export function exercise(daxfs: any, image: Buffer, allowed: string[], maxSteps: number, dax = true): ExerciseResult {
  const res: ExerciseResult = { fsck: 'clean', mounted: false, refused: null, repairedClean: false, codes: {}, findings: [], steps: 0 };
  const ok = (e: any): boolean => {
    if (!(e instanceof Error)) return false;
    const code = (e as any).code;
    if (code === 'SIGBUS') return ok((e as any).cause) || (e as any).cause === undefined;
    return typeof code === 'string' && allowed.includes(code);
  };
  const attempt = <T>(step: string, fn: () => T): { value?: T; code?: string } => {
    try {
      return { value: fn() };
    } catch (e: any) {
      const code = e && typeof e.code === 'string' ? e.code : 'uncoded';
      res.codes[`${step}:${code}`] = (res.codes[`${step}:${code}`] ?? 0) + 1;
      if (!ok(e)) res.findings.push(`${step}: ${e && e.stack ? e.stack : String(e)}${e && e.cause ? `\ncause: ${e.cause.stack ?? e.cause}` : ''}`);
      return { code };
    }
  };

  /** Reads the start and the end of a file, and faults its first page through a mapping. */
  const buf = Buffer.alloc(65536);
  let mapped = 0;
  const readFile = (f: any, path: string, size: number): void => {
    const h = attempt('open', () => f.open(path, 'r')).value;
    if (!h) return;
    attempt('read', () => h.read(buf, 0, buf.length, 0));
    if (size > buf.length) attempt('read-tail', () => h.read(buf, 0, buf.length, Math.max(0, Math.min(size, 2 ** 52) - buf.length)));
    if (size > 0 && f.dax && mapped++ < 8) {   // a few mappings per walk: each costs a native view
      const m = attempt('mmap', () => h.mmap(0, Math.min(size, 8192))).value;
      if (m) {
        attempt('fault-read', () => m.page(0, 'read')[0]);
        attempt('unmap', () => m.unmap());
      }
    }
    attempt('close', () => h.close());
  };

  /** Visits the tree breadth first, at most maxSteps paths. */
  const walk = (f: any): string[] => {
    const files: string[] = [];
    const queue = ['/'];
    while (queue.length && res.steps < maxSteps) {
      const path = queue.shift()!;
      res.steps++;
      const st = attempt('stat', () => f.stat(path)).value;
      if (!st) continue;
      if (st.isDirectory()) {
        const names: string[] = attempt('readdir', () => f.readdir(path)).value ?? [];
        for (const n of names) queue.push(path === '/' ? `/${n}` : `${path}/${n}`);
      } else {
        files.push(path);
        readFile(f, path, st.size);
      }
    }
    return files;
  };

  const dev = daxfs.devices.ram(image.length);
  try {
    dev.writeSectors(0, image);
    const first = attempt('fsck', () => daxfs.fsck(dev));
    res.fsck = first.code ?? (first.value.clean ? 'clean' : 'problems');

    const ro = attempt('mount-ro', () => daxfs.mount(dev, { dax: true, readOnly: true })).value;
    if (ro) {
      mapped = 0;
      walk(ro);
      attempt('unmount-ro', () => ro.unmount());
    }

    // `dax` false: the read-write phase goes through the page cache and sector metadata I/O.
    const rw = attempt('mount-rw', () => daxfs.mount(dev, { dax }));
    res.mounted = rw.value !== undefined;
    res.refused = rw.code ?? null;
    const f = rw.value;
    if (f) {
      mapped = 0;
      const files = walk(f);
      if (files.length) {
        const target = files[0];
        const h = attempt('open-rw', () => f.open(target, 'r+')).value;
        if (h) {
          attempt('write', () => h.write(Buffer.alloc(100, 0xab), 0, 100, 10));
          attempt('append', () => h.write(Buffer.alloc(5000, 0xcd), 0, 5000, Math.min(h.stat().size, 2 ** 40)));
          const m = f.dax ? attempt('mmap-rw', () => h.mmap(0, 4096, { write: true })).value : undefined;
          if (m) {
            attempt('fault-write', () => { m.page(0, 'write')[1] = 7; });
            attempt('unmap', () => m.unmap());
          }
          attempt('truncate', () => h.truncate(3000));
          attempt('close', () => h.close());
        }
        attempt('rename', () => f.rename(target, '/renamed-by-fuzz'));
        attempt('unlink', () => f.unlink(files[files.length - 1]));
      }
      attempt('create', () => f.writeFile('/created-by-fuzz', Buffer.alloc(9000, 1)));
      attempt('mkdir', () => f.mkdir('/a/made-by-fuzz', { recursive: true }));
      attempt('statfs', () => f.statfs());
      attempt('unmount', () => f.unmount());
    }

    attempt('fsck-repair', () => daxfs.fsck(dev, { repair: true }));
    const again = attempt('fsck-again', () => daxfs.fsck(dev)).value;
    res.repairedClean = again !== undefined && again.clean === true;
  } finally {
    dev.close();
  }
  return res;
}
