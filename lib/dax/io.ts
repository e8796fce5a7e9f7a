// daxIO: reads and writes that go straight to the device, no page cache (dax_do_io).
import { DaxOperations } from '../block';
import { DaxError, argError } from '../errors';
import { checkBytes, checkOneOf, checkSize } from '../validate';
import { PAGE_SIZE, Piece, contiguousRun, nextPiece } from './access';
import { BlockMapping, ConvertUnwritten, DaxInode, GetBlock } from './getblock';

function zeroRange(inode: DaxInode, ops: DaxOperations, deviceBlock: number, within: number, length: number, piece: Piece): void {
  for (let at = 0; at < length; at += piece.length) {
    nextPiece(inode.device, deviceBlock, within + at, length - at, piece);
    ops.zero(piece.offset, piece.length);
  }
}

function daxOps(inode: DaxInode): DaxOperations {
  const ops = inode.device.dax;
  if (!inode.device.supportsDax || !ops) {
    throw new DaxError('EOPNOTSUPP', `${inode.device.name} has no direct access: use the page cache for inode ${inode.ino}`, { errno: -95 });
  }
  return ops;
}

/**
 * Reads from `position` into `buffer`, stopping at EOF (0 at EOF, short across it). Holes
 * and unwritten blocks read as zeros without touching the device. Byte granular.
 * Returns the bytes read; throws only when nothing was read. With `collect`, the device
 * pieces are not copied but appended to it as (deviceOffset, bufferOffset, length) triples
 * for one asynchronous copy.
 */
function daxRead(inode: DaxInode, position: number, buffer: Uint8Array, getBlock: GetBlock,
                 collect?: number[]): number {
  const ops = daxOps(inode);
  if (position >= inode.size) return 0;
  const end = Math.min(position + buffer.byteLength, inode.size);
  const piece: Piece = { offset: 0, length: 0 };
  let pos = position;
  let done = 0;
  let first: BlockMapping | undefined;
  if (!collect && end > pos) {
    // As in daxWrite: written blocks the device maps contiguously are one copy.
    const block = Math.floor(pos / PAGE_SIZE);
    const within = pos - block * PAGE_SIZE;
    const length = end - pos;
    first = getBlock(inode, block, Math.ceil((within + length) / PAGE_SIZE), false);
    const at = contiguousRun(inode.device, first, within, length);
    if (at >= 0) {
      ops.copyOut(at, buffer, 0, length);
      return length;
    }
  }
  try {
    while (pos < end) {
      const block = Math.floor(pos / PAGE_SIZE);
      const within = pos - block * PAGE_SIZE;
      const want = Math.ceil((end - block * PAGE_SIZE) / PAGE_SIZE);
      const m = first ?? getBlock(inode, block, want, false);
      first = undefined;
      const span = Math.min(m.count * PAGE_SIZE - within, end - pos);
      const base = done;
      if (!m.mapped || m.unwritten) {
        buffer.fill(0, base, base + span);
        done = base + span;
      } else {
        for (let at = 0; at < span; at += piece.length) {
          nextPiece(inode.device, m.block, within + at, span - at, piece);
          if (collect) collect.push(piece.offset, base + at, piece.length);
          else ops.copyOut(piece.offset, buffer, base + at, piece.length);
          done = base + at + piece.length;  // what really moved, in case a later piece fails
        }
      }
      pos += span;
    }
  } catch (err) {
    if (done === 0) throw err;
  }
  return done;
}

/** What a write's walk over the blocks did, for finishWrite. */
interface WriteWalk {
  done: number;
  /** The last store already carried the call's fence (nothing left to drain). */
  fenced: boolean;
  toConvert?: Array<[number, number]>;
  failure?: unknown;
}

/**
 * Writes `buffer` at `position`, allocating with getBlock(create). Parts of new or
 * unwritten blocks around the written bytes are zeroed in the same call. With `collect`,
 * the data pieces are appended to it as (deviceOffset, bufferOffset, length) triples
 * instead of copied (the zeroing is done here either way). finishWrite ends the call.
 */
function walkWrite(inode: DaxInode, ops: DaxOperations, position: number, buffer: Uint8Array, getBlock: GetBlock,
                   collect?: number[], first?: BlockMapping): WriteWalk {
  const end = position + buffer.byteLength;
  const piece: Piece = { offset: 0, length: 0 };
  let toConvert: Array<[number, number]> | undefined;
  let pos = position;
  let done = 0;
  let fenced = false;
  let failure: unknown;
  try {
    while (pos < end) {
      const block = Math.floor(pos / PAGE_SIZE);
      const within = pos - block * PAGE_SIZE;
      const want = Math.ceil((end - block * PAGE_SIZE) / PAGE_SIZE);
      // getBlock(create) is asked once per block: a second answer would no longer say `new`.
      const m: BlockMapping = first ?? getBlock(inode, block, want, true);
      first = undefined;
      if (!m.mapped) throw new DaxError('EIO', `getBlock(create) left block ${block} of inode ${inode.ino} unmapped`, { errno: -5 });
      const span = Math.min(m.count * PAGE_SIZE - within, end - pos);
      const fresh = m.new || m.unwritten;
      const base = done;
      // The parts of a fresh block the write does not cover must read as zeros, not old bytes.
      if (fresh && within > 0) zeroRange(inode, ops, m.block, 0, within, piece);
      const tail = (within + span) % PAGE_SIZE;
      const zeroTail = fresh && tail !== 0;
      for (let at = 0; at < span; at += piece.length) {
        nextPiece(inode.device, m.block, within + at, span - at, piece);
        const from = base + at;
        const n = piece.length;
        if (collect) {
          collect.push(piece.offset, from, n);
        } else {
          // The walk's last store fences everything before it: no separate drain().
          const last = at + n >= span && pos + span >= end && !zeroTail;
          ops.copyIn(piece.offset, n === buffer.byteLength ? buffer : buffer.subarray(from, from + n), last);
          fenced = last;
        }
        done = from + n;
      }
      if (zeroTail) zeroRange(inode, ops, m.block, within + span, PAGE_SIZE - tail, piece);
      if (m.unwritten) (toConvert ??= []).push([block, Math.ceil((within + span) / PAGE_SIZE)]);
      pos += span;
    }
  } catch (err) {
    failure = err;
  }
  return { done, fenced, toConvert, failure };
}

/**
 * Durable on return (stores flushed or non-temporal, one fence per call on this thread);
 * unwritten blocks are converted after that fence. Returns the bytes written; throws only
 * when nothing was written.
 */
function finishWrite(inode: DaxInode, ops: DaxOperations, w: WriteWalk, convert?: ConvertUnwritten): number {
  if (!w.fenced) ops.drain();   // one fence: everything above is durable from here
  if (convert && w.toConvert) for (const [block, count] of w.toConvert) convert(inode, block, count);
  if (w.failure !== undefined && w.done === 0) throw w.failure;
  return w.done;
}

function daxWrite(inode: DaxInode, position: number, buffer: Uint8Array, getBlock: GetBlock,
                  convert?: ConvertUnwritten): number {
  const ops = daxOps(inode);
  const length = buffer.byteLength;
  if (length === 0) return finishWrite(inode, ops, walkWrite(inode, ops, position, buffer, getBlock), convert);
  const block = Math.floor(position / PAGE_SIZE);
  const within = position - block * PAGE_SIZE;
  const first = getBlock(inode, block, Math.ceil((within + length) / PAGE_SIZE), true);
  // The common case (an overwrite inside one run of written blocks that the device maps
  // contiguously) is one durable store: nothing to zero, convert or split. Anything else,
  // or a device that refuses, takes the walk, which handles every case and failure.
  const at = contiguousRun(inode.device, first, within, length);
  if (at >= 0) {
    ops.copyIn(at, buffer, true);
    return length;
  }
  return finishWrite(inode, ops, walkWrite(inode, ops, position, buffer, getBlock, undefined, first), convert);
}

export type DaxRw = 'read' | 'write';

/** The kernel's dax_do_io: direct reads and writes of a DAX file. */
const RW = ['read', 'write'] as const;

function checkIO(rw: DaxRw, position: number, buffer: ArrayBufferView): Uint8Array {
  // Compared inline (checkOneOf's includes() showed in a 4 KiB write's profile); required.
  if (rw !== 'read' && rw !== 'write') {
    if (rw === undefined) throw argError('ERR_INVALID_ARG_TYPE', `The "rw" argument must be 'read' or 'write'. Received undefined`);
    checkOneOf(rw, 'rw', RW);
  }
  checkSize(position, 'position');
  checkBytes(buffer, 'buffer');
  return buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

export function daxIO(rw: DaxRw, inode: DaxInode, position: number, buffer: ArrayBufferView, getBlock: GetBlock,
                      convert?: ConvertUnwritten): number {
  const bytes = checkIO(rw, position, buffer);
  return rw === 'read' ? daxRead(inode, position, bytes, getBlock) : daxWrite(inode, position, bytes, getBlock, convert);
}

/**
 * Below this many bytes daxIOAsync copies on the main thread: handing a copy to a libuv
 * thread and back costs 0.1-0.5 ms here, a synchronous 256 KiB copy 0.02-0.09 ms (bench/async-copy.js).
 */
export const ASYNC_COPY_MIN = 256 * 1024;

/**
 * daxIO as a promise: getBlock, zeroing and conversion run on the main thread exactly as in
 * daxIO; the data moves in one copy on a libuv thread when the device has copyInAsync /
 * copyOutAsync and the transfer is at least ASYNC_COPY_MIN bytes, otherwise synchronously.
 * The caller must hold its inode lock until the promise settles (the blocks stay in use).
 * Writes are durable when it resolves. If the copy itself fails (the device's mapping was
 * closed meanwhile), it rejects and converts nothing: unwritten blocks still read as zeros.
 */
export async function daxIOAsync(rw: DaxRw, inode: DaxInode, position: number, buffer: ArrayBufferView,
                                 getBlock: GetBlock, convert?: ConvertUnwritten): Promise<number> {
  const bytes = checkIO(rw, position, buffer);
  const ops = daxOps(inode);
  const copy = rw === 'read' ? ops.copyOutAsync : ops.copyInAsync;
  if (copy === undefined || bytes.byteLength < ASYNC_COPY_MIN) return daxIO(rw, inode, position, bytes, getBlock, convert);
  const segments: number[] = [];
  if (rw === 'read') {
    const n = daxRead(inode, position, bytes, getBlock, segments);
    if (segments.length > 0) await copy.call(ops, Float64Array.from(segments), bytes);
    return n;
  }
  const w = walkWrite(inode, ops, position, bytes, getBlock, segments);
  if (segments.length > 0) {
    try {
      await copy.call(ops, Float64Array.from(segments), bytes);
    } catch (err) {
      ops.drain();   // the zeroing above still gets its fence
      throw err;
    }
  }
  return finishWrite(inode, ops, w, convert);
}
