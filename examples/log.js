#!/usr/bin/env node
// A persistent append-only log on a daxfs file. Each record is an 8-byte header (payload
// length, CRC-32 of the payload, little-endian) and the payload, appended with one write:
// on a DAX mount the write is durable when it returns. A crash can still leave the last
// record torn (header written, payload not), so replay stops at the first record that is
// short or fails its CRC, and cuts the log there before appending again.
//
//   node examples/log.js [IMAGE]     (default: an emulated pmem image in a temp folder)
'use strict';

const { crc32 } = require('zlib');
const { prepareImage, withMount } = require('./image');

const LOG = '/app.log';
const HEADER = 8;

function encode(text) {
  const payload = Buffer.from(text);
  const record = Buffer.alloc(HEADER + payload.length);
  record.writeUInt32LE(payload.length, 0);
  record.writeUInt32LE(crc32(payload), 4);
  payload.copy(record, HEADER);
  return record;
}

function append(filesystem, texts) {
  const h = filesystem.open(LOG, 'a');
  try {
    for (const text of texts) h.write(encode(text));
  } finally {
    h.close();
  }
}

/** The intact records, and where the first torn one starts (the log's good length). */
function replay(filesystem) {
  const data = filesystem.readFile(LOG);
  const records = [];
  let at = 0;
  while (at + HEADER <= data.length) {
    const length = data.readUInt32LE(at);
    const end = at + HEADER + length;
    if (end > data.length) break;                                   // payload cut short
    const payload = data.subarray(at + HEADER, end);
    if (crc32(payload) !== data.readUInt32LE(at + 4)) break;        // payload not what was written
    records.push(payload.toString());
    at = end;
  }
  return { records, good: at, size: data.length };
}

function main() {
  const { image, cleanup } = prepareImage(process.argv[2]);
  try {
    console.log(`image: ${image}`);
    withMount(image, (filesystem) => {
      if (!filesystem.readdir('/').includes(LOG.slice(1))) filesystem.writeFile(LOG, '');
      append(filesystem, ['user alice signed up', 'user bob signed up', 'alice paid 12.50']);
      console.log('appended 3 records');
    });

    // A crash in the middle of an append: the header reached the log, most of the payload
    // did not. Written here by hand, as a power cut would leave it.
    withMount(image, (filesystem) => {
      const torn = encode('bob paid 99.00 (this record is torn)').subarray(0, HEADER + 5);
      const h = filesystem.open(LOG, 'a');
      h.write(torn);
      h.close();
      console.log(`crash: a torn record of ${torn.length} bytes left at the end`);
    });

    withMount(image, (filesystem) => {
      const { records, good, size } = replay(filesystem);
      console.log(`remount: replayed ${records.length} records`);
      for (const r of records) console.log(`  ${r}`);
      if (good < size) {
        console.log(`torn record at offset ${good} (${size - good} bytes): cut off`);
        const h = filesystem.open(LOG, 'r+');
        h.truncate(good);
        h.close();
      }
      append(filesystem, ['bob paid 99.00']);
      console.log('appended 1 record');
    });

    withMount(image, (filesystem) => {
      const { records, good, size } = replay(filesystem);
      console.log(`remount: replayed ${records.length} records, ${good === size ? 'no torn record' : 'a torn record'}`);
      for (const r of records) console.log(`  ${r}`);
    });
  } finally {
    cleanup();
  }
}

main();
