// Command-line parsing: options by a small per-command spec, and sizes with K/M/G/T.

/** A mistake in how the command was called: reported with the command's usage, exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface ArgSpec {
  /** Options without a value, by every spelling ('-r', '--recursive') -> key. */
  flags?: Record<string, string>;
  /** Options that take a value ('--size 64M' or '--size=64M') -> key. */
  values?: Record<string, string>;
  /** How many positional arguments, at least and at most. */
  min?: number;
  max?: number;
}

export interface Parsed {
  flags: Set<string>;
  values: Map<string, string>;
  positional: string[];
}

export function parseArgs(argv: string[], spec: ArgSpec): Parsed {
  const flags = spec.flags ?? {};
  const values = spec.values ?? {};
  const out: Parsed = { flags: new Set(), values: new Map(), positional: [] };
  let onlyPositional = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (onlyPositional || arg === '-' || !arg.startsWith('-')) {
      out.positional.push(arg);
    } else if (arg === '--') {
      onlyPositional = true;
    } else if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq < 0 ? arg : arg.slice(0, eq);
      if (values[name]) {
        const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
        if (value === undefined) throw new UsageError(`option ${name} needs a value`);
        out.values.set(values[name], value);
      } else if (flags[name] && eq < 0) {
        out.flags.add(flags[name]);
      } else {
        throw new UsageError(`unknown option '${arg}'`);
      }
    } else {
      // Short options combine, as in 'rm -rf': every letter must be a known flag.
      for (const letter of arg.slice(1)) {
        const key = flags[`-${letter}`];
        if (!key) throw new UsageError(`unknown option '-${letter}'`);
        out.flags.add(key);
      }
    }
  }
  const n = out.positional.length;
  if (spec.min !== undefined && n < spec.min) throw new UsageError(n === 0 ? 'missing argument' : 'too few arguments');
  if (spec.max !== undefined && n > spec.max) throw new UsageError(`unexpected argument '${out.positional[spec.max]}'`);
  return out;
}

const UNITS: Record<string, number> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 };

/** '64M' -> 67108864. Binary units (K = 1024); 'KiB', 'MB' and lower case are accepted too. */
export function parseSize(text: string, what = 'size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`${what} '${text}' is not a size (examples: 4096, 64M, 1.5G, 2T)`);
  const bytes = Math.round(Number(m[1]) * UNITS[m[2].toUpperCase()]);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UsageError(`${what} '${text}' is out of range`);
  return bytes;
}

/** 67108864 -> '64 MiB'. */
export function formatSize(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
