#!/usr/bin/env node
// Testing your own pmem code with the crash simulator: a persistent log with a classic bug,
// and testing.crashable() catching it.
//
// The log is a tail (the bytes of records, a uint32 at offset 0) and the records after it
// (a uint32 length, then the payload). append() stores a record, then publishes it by
// storing the new tail and persisting it. The forgetful version never flushes the record:
// every run works, yet after a power loss the tail can be durable while the record it
// covers is not, and recovery reads zeros as a record. The fixed version persists the
// record before it publishes the tail. docs/TESTING.md walks through it.
//
//   node examples/forgetful-log.js      (exit status 0: the bug caught, the fix passing)
'use strict';

const { testing, mapAnonymous } = require('..');   // the package: its package.json "main"

const TAIL = 0;      // uint32: bytes of records
const DATA = 256;    // records start here, on a cache line of their own

function append(log, text, { flushRecord }) {
  const payload = Buffer.from(text);
  const tail = log.view(TAIL, 4).readUInt32LE(0);
  const at = DATA + tail;
  const record = log.view(at, 4 + payload.length);
  record.writeUInt32LE(payload.length, 0);
  payload.copy(record, 4);
  if (flushRecord) log.persist(at, record.length);   // the fix: the record is durable first
  log.view(TAIL, 4).writeUInt32LE(tail + record.length, 0);
  log.persist(TAIL, 4);                              // publish: the new tail is durable
}

/** The records a restart would find in `image`. */
function recover(image) {
  const end = DATA + image.view(TAIL, 4).readUInt32LE(0);
  const records = [];
  for (let at = DATA; at < end;) {
    const length = image.view(at, 4).readUInt32LE(0);
    records.push(image.view(at + 4, length).toString());
    at += 4 + length;
  }
  return records;
}

/**
 * Appends `texts` to a log on a crashable mapping and, at every fence, recovers the image a
 * power loss would leave there. Each image must hold every append that has returned, maybe
 * the one in flight, and nothing else. Returns the first image that does not, or null.
 */
function firstBadImage(texts, options) {
  let returned = 0;   // appends that have returned
  let bad = null;
  const log = testing.crashable(mapAnonymous(1 << 20), {
    onFence(fence) {
      if (bad) return;
      const image = log.crash();   // drop-unflushed: only what was flushed, then fenced
      try {
        const got = recover(image);
        const prefix = got.every((text, i) => text === texts[i]);
        if (!prefix || got.length < returned || got.length > returned + 1) bad = { fence, got, want: texts.slice(0, returned + 1) };
      } finally {
        image.close();
      }
    },
  });
  try {
    for (const text of texts) {
      append(log, text, options);
      returned++;
    }
    return bad === null ? { fences: log.fences } : bad;
  } finally {
    log.close();
  }
}

const texts = ['user alice signed up', 'user bob signed up', 'alice paid 12.50'];

const forgetful = firstBadImage(texts, { flushRecord: false });
console.log('forgetful log (the record is never flushed):');
console.log(forgetful.got
  ? `  caught at fence ${forgetful.fence}: recovery found ${JSON.stringify(forgetful.got)} where the log held ` +
    `${JSON.stringify(forgetful.want)}; the tail was durable, the record it covers was not`
  : `  not caught: ${forgetful.fences} fences, every image consistent`);

const fixed = firstBadImage(texts, { flushRecord: true });
console.log('fixed log (the record is persisted before the tail):');
console.log(fixed.got
  ? `  still wrong at fence ${fixed.fence}: recovery found ${JSON.stringify(fixed.got)}`
  : `  ${fixed.fences} fences, ${fixed.fences} crash images, each recovered every append that had returned`);

process.exitCode = forgetful.got && !fixed.got ? 0 : 1;
