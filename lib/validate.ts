// Argument checks with Node's own codes and messages, used at every public entry point.
import { argError } from './errors';

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (typeof value === 'object') return `an instance of ${(value as object).constructor?.name ?? 'Object'}`;
  return `type ${typeof value} (${String(value)})`;
}

/** A non-negative safe integer (sizes, offsets, lengths). */
export function checkSize(value: unknown, name: string): number {
  if (typeof value !== 'number') {
    throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number. Received ${describe(value)}`);
  }
  if (!Number.isSafeInteger(value) || value < 0) {
    throw argError('ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be a non-negative safe integer. Received ${value}`);
  }
  return value;
}

export function checkInteger(value: unknown, name: string, min: number, max: number): number {
  if (typeof value !== 'number') {
    throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type number. Received ${describe(value)}`);
  }
  if (!Number.isInteger(value) || value < min || value > max) {
    throw argError('ERR_OUT_OF_RANGE', `The value of "${name}" is out of range. It must be an integer >= ${min} && <= ${max}. Received ${value}`);
  }
  return value;
}

export function checkBytes(value: unknown, name: string): ArrayBufferView {
  if (!ArrayBuffer.isView(value)) {
    throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be an instance of Buffer, TypedArray, or DataView. Received ${describe(value)}`);
  }
  return value;
}

export function checkString(value: unknown, name: string): string {
  if (typeof value !== 'string') {
    throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type string. Received ${describe(value)}`);
  }
  if (value.length === 0 || value.includes('\0')) {
    throw argError('ERR_INVALID_ARG_VALUE', `The argument '${name}' must be a non-empty string without null bytes. Received '${value}'`);
  }
  return value;
}

export function checkOptions<T extends object>(value: unknown, name: string): Partial<T> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object') {
    throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" argument must be of type object. Received ${describe(value)}`);
  }
  return value as Partial<T>;
}

export function checkBoolean(value: unknown, name: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') {
    throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" property must be of type boolean. Received ${describe(value)}`);
  }
  return value;
}

export function checkOneOf<T extends string>(value: unknown, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw argError('ERR_INVALID_ARG_VALUE', `The property '${name}' must be one of: ${allowed.map((a) => `'${a}'`).join(', ')}. Received ${describe(value)}`);
  }
  return value as T;
}

export function checkFunction<T extends (...args: never[]) => unknown>(value: unknown, name: string): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw argError('ERR_INVALID_ARG_TYPE', `The "${name}" property must be of type function. Received ${describe(value)}`);
  }
  return value as T;
}
