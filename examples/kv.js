#!/usr/bin/env node
// A small key-value store on a daxfs file: every put and delete is one record appended to
// a log (durable when the write returns, on a DAX mount), and an in-memory index from key
// to the value's place in the log is rebuilt when the store opens. get() reads the value
// straight from the file at that place. A record that fails its CRC (a crash mid-append)
// ends the log: it and anything after it are cut off at open.
//
//   record: CRC-32 (of the rest) u32 | op u8 (1 put, 2 delete) | key length u16 |
//           value length u32 | key | value                         (little-endian)
//
//   node examples/kv.js [IMAGE]     (default: an emulated pmem image in a temp folder)
'use strict';

const { crc32 } = require('zlib');
const { prepareImage, withMount } = require('./image');

const PUT = 1;
const DELETE = 2;
const HEADER = 11;

class Store {
  constructor(filesystem, path) {
    this.handle = filesystem.open(path, 'a+');   // appends go to the end; reads take a position
    this.index = new Map();                       // key -> { offset, length } of its value
    this.size = 0;
    this.rebuild(filesystem.readFile(path));
  }

  rebuild(log) {
    let at = 0;
    while (at + HEADER <= log.length) {
      const keyLength = log.readUInt16LE(at + 5);
      const valueLength = log.readUInt32LE(at + 7);
      const end = at + HEADER + keyLength + valueLength;
      if (end > log.length || crc32(log.subarray(at + 4, end)) !== log.readUInt32LE(at)) break;
      const key = log.toString('utf8', at + HEADER, at + HEADER + keyLength);
      if (log[at + 4] === PUT) this.index.set(key, { offset: at + HEADER + keyLength, length: valueLength });
      else this.index.delete(key);
      at = end;
    }
    if (at < log.length) this.handle.truncate(at);   // a torn tail: the next append starts clean
    this.size = at;
  }

  append(op, key, value) {
    const k = Buffer.from(key);
    const record = Buffer.alloc(HEADER + k.length + value.length);
    record[4] = op;
    record.writeUInt16LE(k.length, 5);
    record.writeUInt32LE(value.length, 7);
    k.copy(record, HEADER);
    value.copy(record, HEADER + k.length);
    record.writeUInt32LE(crc32(record.subarray(4)), 0);
    this.handle.write(record);
    const offset = this.size + HEADER + k.length;
    this.size += record.length;
    return offset;
  }

  put(key, value) {
    const v = Buffer.from(value);
    this.index.set(key, { offset: this.append(PUT, key, v), length: v.length });
  }

  delete(key) {
    if (!this.index.has(key)) return false;
    this.append(DELETE, key, Buffer.alloc(0));
    this.index.delete(key);
    return true;
  }

  get(key) {
    const place = this.index.get(key);
    if (!place) return undefined;
    const value = Buffer.alloc(place.length);
    this.handle.read(value, 0, place.length, place.offset);
    return value.toString();
  }

  keys() {
    return [...this.index.keys()].sort();
  }

  close() {
    this.handle.close();
  }
}

function withStore(image, fn) {
  return withMount(image, (filesystem) => {
    const store = new Store(filesystem, '/store.kv');
    try {
      return fn(store);
    } finally {
      store.close();
    }
  });
}

function show(store) {
  for (const key of store.keys()) console.log(`  ${key} = ${store.get(key)}`);
}

function main() {
  const { image, cleanup } = prepareImage(process.argv[2]);
  try {
    console.log(`image: ${image}`);
    withStore(image, (store) => {
      store.put('color', 'blue');
      store.put('size', 'large');
      store.put('owner', 'alice');
      store.put('color', 'green');   // a newer value: the index points at it
      console.log(`put color, size, owner, color again; delete size: ${store.delete('size')}`);
      console.log(`delete missing: ${store.delete('missing')}`);
    });
    withStore(image, (store) => {
      console.log(`remount: ${store.keys().length} keys, log of ${store.size} bytes`);
      show(store);
      console.log(`get size: ${store.get('size')}`);
      store.put('owner', 'bob');
    });
    withStore(image, (store) => {
      console.log('remount after put owner=bob:');
      show(store);
    });
  } finally {
    cleanup();
  }
}

main();
