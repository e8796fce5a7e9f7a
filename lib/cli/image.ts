// IMAGE:/path targets, and opening an image (a file or a device-DAX node) as a device and
// a DAX mount. A command opens each image once, however many of its arguments name it.
import * as fs from 'node:fs';
import { BlockDevice, devices } from '../block';
import { DaxError } from '../errors';
import { Filesystem } from '../fs/filesystem';
import { mapFile, PmemMapping } from '../pmem';
import { UsageError } from './args';
import { withHint } from './report';

export type Target =
  | { kind: 'image'; image: string; path: string; text: string }
  | { kind: 'host'; path: string; text: string };

/**
 * 'disk.img:/a/b' names /a/b inside disk.img ('disk.img:' is its root), as scp names a
 * remote path. Anything else is a host path; so is 'a:b', where no '/' follows the colon.
 */
export function parseTarget(text: string): Target {
  const colon = text.indexOf(':');
  if (colon > 0) {
    const rest = text.slice(colon + 1);
    if (rest === '' || rest.startsWith('/')) return { kind: 'image', image: text.slice(0, colon), path: rest || '/', text };
  }
  return { kind: 'host', path: text, text };
}

/** A target that must be inside an image (ls, cat, rm, ...). */
export function imageTarget(text: string): Extract<Target, { kind: 'image' }> {
  const t = parseTarget(text);
  if (t.kind !== 'image') throw new UsageError(`'${text}' is a host path; write IMAGE:/path for a path inside an image (e.g. disk.img:/dir)`);
  return t;
}

/** An image argument ('disk.img' or 'disk.img:'), for commands on a whole image. */
export function imageArgument(text: string): string {
  const t = parseTarget(text);
  if (t.kind === 'image' && t.path !== '/') throw new UsageError(`'${text}' names a path; this command takes the image alone (${t.image})`);
  return t.kind === 'image' ? t.image : text;
}

function imageError(code: string, errno: number, image: string, message: string, hint?: string): DaxError {
  const e = new DaxError(code, message, { errno: -errno, path: image });
  return hint ? withHint(e, hint) : e;
}

/** Checks that `image` is something a device can be made of, with messages that say what to do. */
function checkImage(image: string): fs.Stats {
  let st: fs.Stats;
  try {
    st = fs.statSync(image);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    if (code === 'ENOENT') throw imageError('ENOENT', 2, image, `image '${image}' does not exist`, `check the name, or make one with 'daxfs mkfs ${image} --size 64M'`);
    throw imageError(code, 5, image, `cannot open image '${image}': ${(e as Error).message}`);
  }
  if (st.isDirectory()) throw imageError('EISDIR', 21, image, `'${image}' is a directory, not an image`);
  if (!st.isFile() && !st.isCharacterDevice()) {
    throw imageError('EINVAL', 22, image, `'${image}' is neither an image file nor a device-DAX node (/dev/daxX.Y)`);
  }
  return st;
}

export interface OpenDevice {
  device: BlockDevice;
  /** What the device runs on: kind and isPmem say whether this is real pmem. */
  mapping: PmemMapping;
  close(): void;
}

/** The image as a pmem device. Image files stay sparse: nothing is preallocated. */
export function openDevice(image: string): OpenDevice {
  const st = checkImage(image);
  const mapping: PmemMapping = mapFile(image, st.isFile() ? { sparse: true } : {});
  let device: BlockDevice;
  try {
    device = devices.pmem(mapping);
  } catch (e) {
    mapping.close();
    throw e;
  }
  return { device, mapping, close: () => { device.close(); mapping.close(); } };
}

export interface CreateOptions {
  size?: number;
  force: boolean;
}

/**
 * A fresh sparse image file of `size` bytes, or a device-DAX node as it is. Existing data
 * is kept safe: a non-empty file, or a device whose first block is not zero, needs force.
 */
export function createDevice(image: string, o: CreateOptions): OpenDevice {
  let st: fs.Stats | null = null;
  try {
    st = checkImage(image);
  } catch (e) {
    if ((e as DaxError).code !== 'ENOENT') throw e;
  }
  if (st && st.isCharacterDevice()) {
    if (o.size !== undefined) throw new UsageError(`${image} is a device: it has its own size, drop --size`);
    const opened = openDevice(image);
    const first = Buffer.alloc(4096);
    opened.device.readSectors(0, first);
    if (!o.force && first.some((b) => b !== 0)) {
      opened.close();
      throw imageError('EEXIST', 17, image, `${image} holds data (its first block is not zero)`, 'pass --force to overwrite it (its contents are lost)');
    }
    return opened;
  }
  if (st && st.size > 0 && !o.force) {
    throw imageError('EEXIST', 17, image, `image '${image}' exists and is not empty`, 'pass --force to overwrite it (its contents are lost), or choose another name');
  }
  const fd = fs.openSync(image, st ? 'r+' : 'wx', 0o644);
  try {
    fs.ftruncateSync(fd, 0);   // drops the old blocks: the new image reads as zeros and stays sparse
    fs.ftruncateSync(fd, o.size ?? 64 * 2 ** 20);
  } finally {
    fs.closeSync(fd);
  }
  return openDevice(image);
}

interface Opened {
  dev: OpenDevice;
  fs: Filesystem;
  writable: boolean;
}

/** The images one command works on, each opened and mounted once. */
export class Images {
  readonly #open = new Map<string, Opened>();

  #key(image: string): string {
    try {
      return fs.realpathSync(image);
    } catch {
      return image;
    }
  }

  /** Mounts with dax, read-only unless `writable` (a read-only mount stays so until remounted). */
  mount(image: string, writable: boolean): Filesystem {
    const key = this.#key(image);
    const had = this.#open.get(key);
    if (had && (had.writable || !writable)) return had.fs;
    if (had) this.#close(key, had);
    const dev = openDevice(image);
    try {
      const mounted = Filesystem.mount(dev.device, writable ? 'dax' : 'dax,ro');
      this.#open.set(key, { dev, fs: mounted, writable });
      return mounted;
    } catch (e) {
      dev.close();
      throw e;
    }
  }

  #close(key: string, o: Opened): void {
    this.#open.delete(key);
    try {
      o.fs.unmount();
    } finally {
      o.dev.close();
    }
  }

  closeAll(): void {
    for (const [key, o] of [...this.#open]) this.#close(key, o);
  }
}

/** Runs `fn` with an Images that is closed afterwards, whatever happens. */
export function withImages<T>(fn: (images: Images) => T): T {
  const images = new Images();
  try {
    return fn(images);
  } finally {
    images.closeAll();
  }
}
