// open() flags as node:fs takes them: strings ('r', 'r+', 'w', 'wx', 'a', ...) or numbers.
import * as fs from 'node:fs';
import { argError } from '../errors';

const C = fs.constants;

export interface OpenFlags {
  read: boolean;
  write: boolean;
  create: boolean;
  exclusive: boolean;
  truncate: boolean;
  append: boolean;
  direct: boolean;
  flags: number;
}

const STRINGS: Record<string, number> = {
  r: C.O_RDONLY, rs: C.O_RDONLY | C.O_SYNC, sr: C.O_RDONLY | C.O_SYNC,
  'r+': C.O_RDWR, 'rs+': C.O_RDWR | C.O_SYNC, 'sr+': C.O_RDWR | C.O_SYNC,
  w: C.O_TRUNC | C.O_CREAT | C.O_WRONLY, wx: C.O_TRUNC | C.O_CREAT | C.O_WRONLY | C.O_EXCL,
  xw: C.O_TRUNC | C.O_CREAT | C.O_WRONLY | C.O_EXCL,
  'w+': C.O_TRUNC | C.O_CREAT | C.O_RDWR, 'wx+': C.O_TRUNC | C.O_CREAT | C.O_RDWR | C.O_EXCL,
  'xw+': C.O_TRUNC | C.O_CREAT | C.O_RDWR | C.O_EXCL,
  a: C.O_APPEND | C.O_CREAT | C.O_WRONLY, ax: C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_EXCL,
  xa: C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_EXCL, as: C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_SYNC,
  sa: C.O_APPEND | C.O_CREAT | C.O_WRONLY | C.O_SYNC, 'a+': C.O_APPEND | C.O_CREAT | C.O_RDWR,
  'ax+': C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_EXCL, 'xa+': C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_EXCL,
  'as+': C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_SYNC, 'sa+': C.O_APPEND | C.O_CREAT | C.O_RDWR | C.O_SYNC,
};

export function parseFlags(flags: string | number | undefined): OpenFlags {
  let n: number;
  if (flags === undefined) n = C.O_RDONLY;
  else if (typeof flags === 'number') {
    if (!Number.isInteger(flags) || flags < 0) throw argError('ERR_OUT_OF_RANGE', `The value of "flags" is out of range. Received ${flags}`);
    n = flags;
  } else if (typeof flags === 'string') {
    const v = STRINGS[flags];
    if (v === undefined) throw argError('ERR_INVALID_ARG_VALUE', `The argument 'flags' is invalid. Received '${flags}'`);
    n = v;
  } else {
    throw argError('ERR_INVALID_ARG_TYPE', `The "flags" argument must be of type string or number. Received type ${typeof flags}`);
  }
  const access = n & 3;
  return {
    read: access === C.O_RDONLY || access === C.O_RDWR,
    write: access === C.O_WRONLY || access === C.O_RDWR,
    create: (n & C.O_CREAT) !== 0,
    exclusive: (n & C.O_EXCL) !== 0,
    truncate: (n & C.O_TRUNC) !== 0,
    append: (n & C.O_APPEND) !== 0,
    direct: (n & C.O_DIRECT) !== 0,
    flags: n,
  };
}
