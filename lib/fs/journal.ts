// A redo journal that makes each metadata operation atomic across a crash at any store.
//
// One transaction at a time (operations run under the filesystem's process-wide metadata
// lock, and several mounts in several workers share one journal): its records are
// written to the journal area and made durable (barrier 1), then applied in place and made
// durable (barrier 2), then `applied` is advanced with no barrier of its own: the next
// transaction's first barrier orders it. A transaction counts when its checksum is valid
// and its sequence number is above `applied`; mount replays it (the records are absolute
// byte images, so replaying twice is harmless). A torn transaction fails its checksum and
// is dropped, leaving the previous state.
import * as zlib from 'node:zlib';
import { DaxError } from '../errors';
import { MetaIO } from './metaio';

const HEADER_MAGIC = 0x4c4a5844;   // "DXJL"
const TX_MAGIC = 0x58545844;       // "DXTX"
const TX_HEADER = 24;              // magic u32, count u32, seq f64, bytes u32, crc u32
const ENTRY_HEADER = 16;           // target f64, length u32, pad u32

/** Journal area: `start` byte offset, `size` bytes (a block for the header, the rest for records). */
export interface JournalArea {
  start: number;
  size: number;
  blockSize: number;
}

export interface JournalStats {
  commits: number;
  replayed: number;
}

function pad8(n: number): number {
  return (n + 7) & ~7;
}

export class Transaction {
  readonly entries: Array<{ target: number; data: Buffer }> = [];
  #bytes = TX_HEADER;

  constructor(private readonly io: MetaIO) {}

  /** Reads through the transaction: the device's bytes with this transaction's writes on top. */
  read(offset: number, length: number): Buffer {
    const out = this.io.read(offset, length);
    for (const e of this.entries) {
      const from = Math.max(offset, e.target);
      const to = Math.min(offset + length, e.target + e.data.length);
      if (from < to) e.data.copy(out, from - offset, from - e.target, to - e.target);
    }
    return out;
  }

  /** Records that `data` is to be stored at byte `target` (later writes win). */
  write(target: number, data: Uint8Array): void {
    // The same bytes written again (a summary count updated by several allocations)
    // replace the earlier entry instead of growing the record, but only when no later
    // entry overlaps them: entries apply in order, so a later overlap must stay on top.
    const end = target + data.byteLength;
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i];
      if (e.target >= end || target >= e.target + e.data.length) continue;
      if (e.target === target && e.data.length === data.byteLength) {
        e.data.set(data);
        return;
      }
      break;
    }
    this.entries.push({ target, data: Buffer.from(data) });
    this.#bytes += ENTRY_HEADER + pad8(data.byteLength);
  }

  get bytes(): number {
    return this.#bytes;
  }
}

export class Journal {
  readonly stats: JournalStats = { commits: 0, replayed: 0 };
  #applied: number;
  #aborted: Error | null = null;

  private constructor(private readonly io: MetaIO, private readonly area: JournalArea) {
    this.#applied = 0;
  }

  get capacity(): number {
    return this.area.size - this.area.blockSize;
  }

  /** The sequence number of the last applied transaction, as the device records it. */
  get applied(): number {
    return this.#readApplied();
  }

  // Another mount of the device (a worker) may have committed since we last looked: the
  // header on the device is the truth, our copy only a record of our own last commit.
  #readApplied(): number {
    return this.io.read(this.area.start + 8, 8).readDoubleLE(0);
  }

  /** Writes an empty journal (mkfs). */
  static format(io: MetaIO, area: JournalArea): void {
    const header = Buffer.alloc(16);
    header.writeUInt32LE(HEADER_MAGIC, 0);
    header.writeUInt32LE(1, 4);
    header.writeDoubleLE(0, 8);   // applied
    io.write(area.start, header);
    io.write(area.start + area.blockSize, Buffer.alloc(TX_HEADER));
    io.barrier();
  }

  /** Opens the journal without replaying: for fsck, which reports before it repairs. */
  static inspect(io: MetaIO, area: JournalArea): { pending: boolean } {
    const header = io.read(area.start, 16);
    if (header.readUInt32LE(0) !== HEADER_MAGIC) {
      throw new DaxError('EUCLEAN', `journal header at byte ${area.start} is corrupt (bad magic)`, { errno: -117 });
    }
    const j = new Journal(io, area);
    j.#applied = header.readDoubleLE(8);
    if (!Number.isSafeInteger(j.#applied) || j.#applied < 0) {
      throw new DaxError('EUCLEAN', `journal header at byte ${area.start} is corrupt (applied sequence number ${j.#applied})`, { errno: -117 });
    }
    return { pending: j.#pending() !== null };
  }

  /** Opens the journal and replays what a crash left; EUCLEAN when the header is not ours. */
  static open(io: MetaIO, area: JournalArea): Journal {
    const header = io.read(area.start, 16);
    if (header.readUInt32LE(0) !== HEADER_MAGIC) {
      throw new DaxError('EUCLEAN', `journal header at byte ${area.start} is corrupt (bad magic)`, { errno: -117 });
    }
    const j = new Journal(io, area);
    j.#applied = header.readDoubleLE(8);
    if (!Number.isSafeInteger(j.#applied) || j.#applied < 0) {
      throw new DaxError('EUCLEAN', `journal header at byte ${area.start} is corrupt (applied sequence number ${j.#applied})`, { errno: -117 });
    }
    j.replay();
    return j;
  }

  /** The committed transaction in the journal that is not applied yet, if any. */
  #pending(): { seq: number; entries: Array<{ target: number; data: Buffer }> } | null {
    const at = this.area.start + this.area.blockSize;
    const head = this.io.read(at, TX_HEADER);
    if (head.readUInt32LE(0) !== TX_MAGIC) return null;
    const count = head.readUInt32LE(4);
    const seq = head.readDoubleLE(8);
    const bytes = head.readUInt32LE(16);
    if (!Number.isSafeInteger(seq) || seq <= this.#applied || bytes < TX_HEADER || bytes > this.capacity) return null;
    const whole = this.io.read(at, bytes);
    if (crcOf(whole) !== whole.readUInt32LE(20)) return null;
    const entries: Array<{ target: number; data: Buffer }> = [];
    let off = TX_HEADER;
    for (let i = 0; i < count; i++) {
      // A record whose checksum holds but whose entries do not fit it, or aim outside the
      // device or into the journal itself, was not written by commit: corruption, never replayed.
      if (off + ENTRY_HEADER > bytes) throw this.#corrupt(`entry ${i} of ${count} starts past the record's ${bytes} bytes`);
      const target = whole.readDoubleLE(off);
      const length = whole.readUInt32LE(off + 8);
      if (off + ENTRY_HEADER + length > bytes) throw this.#corrupt(`entry ${i} (${length} bytes) runs past the record's ${bytes} bytes`);
      if (!Number.isSafeInteger(target) || target < 0 || target + length > this.io.device.size ||
          (target < this.area.start + this.area.size && target + length > this.area.start)) {
        throw this.#corrupt(`entry ${i} targets bytes ${target}..${target + length}, outside the device or inside the journal`);
      }
      entries.push({ target, data: whole.subarray(off + ENTRY_HEADER, off + ENTRY_HEADER + length) });
      off += ENTRY_HEADER + pad8(length);
    }
    return { seq, entries };
  }

  #corrupt(what: string): DaxError {
    return new DaxError('EUCLEAN', `the journal's committed transaction is corrupt: ${what}`, { errno: -117 });
  }

  replay(): boolean {
    this.#applied = this.#readApplied();
    const tx = this.#pending();
    if (!tx) return false;
    this.#apply(tx.seq, tx.entries);
    this.stats.replayed++;
    return true;
  }

  #apply(seq: number, entries: Array<{ target: number; data: Buffer }>): void {
    for (const e of entries) this.io.write(e.target, e.data);
    this.io.barrier();
    const applied = Buffer.alloc(8);
    applied.writeDoubleLE(seq, 0);
    this.io.write(this.area.start + 8, applied);   // ordered by the next transaction's barrier
    this.#applied = seq;
  }

  begin(): Transaction {
    return new Transaction(this.io);
  }

  /** Makes every write of `tx` durable and applied, atomically. */
  commit(tx: Transaction): void {
    if (tx.entries.length === 0) return;
    if (this.#aborted) {
      throw new DaxError('EIO', `the journal is aborted: a committed transaction could not be applied (${this.#aborted.message}); unmount and mount again to replay it`, { errno: -5, cause: this.#aborted });
    }
    if (tx.bytes > this.capacity) {
      throw new DaxError('ENOSPC', `a transaction of ${tx.bytes} bytes does not fit the ${this.capacity}-byte journal`, { errno: -28 });
    }
    this.#applied = this.#readApplied();
    const seq = this.#applied + 1;
    const buf = Buffer.alloc(tx.bytes);
    buf.writeUInt32LE(TX_MAGIC, 0);
    buf.writeUInt32LE(tx.entries.length, 4);
    buf.writeDoubleLE(seq, 8);
    buf.writeUInt32LE(tx.bytes, 16);
    let off = TX_HEADER;
    for (const e of tx.entries) {
      buf.writeDoubleLE(e.target, off);
      buf.writeUInt32LE(e.data.length, off + 8);
      e.data.copy(buf, off + ENTRY_HEADER);
      off += ENTRY_HEADER + pad8(e.data.length);
    }
    buf.writeUInt32LE(crcOf(buf), 20);
    this.io.write(this.area.start + this.area.blockSize, buf);
    this.io.barrier();   // the transaction is committed from here
    try {
      this.#apply(seq, tx.entries);
    } catch (e) {
      // Committed but not (wholly) applied: the record is the only full copy, and the next
      // commit would overwrite it. Refuse every later commit; a mount replays it.
      this.#aborted = e as Error;
      throw e;
    }
    this.stats.commits++;
  }
}

/** Checksum of a transaction: its header fields and every record, not the crc field. */
function crcOf(tx: Buffer): number {
  return zlib.crc32(tx.subarray(TX_HEADER), zlib.crc32(tx.subarray(0, 20)));
}
