// Mount options, as fstab writes them ('dax,ro,profile=modern') or as an object.
import { argError } from '../errors';

export type Profile = 'linux-4.0' | 'modern';

export interface MountOptions {
  dax?: boolean;
  readOnly?: boolean;
  profile?: Profile;
}

export function parseMountOptions(options: string | MountOptions | undefined): Required<MountOptions> {
  const out: Required<MountOptions> = { dax: false, readOnly: false, profile: 'linux-4.0' };
  if (options === undefined || options === null) return out;
  if (typeof options === 'string') {
    for (const word of options.split(',').map((w) => w.trim()).filter(Boolean)) {
      if (word === 'dax' || word === 'dax=always') out.dax = true;
      else if (word === 'nodax' || word === 'dax=never') out.dax = false;
      else if (word === 'ro') out.readOnly = true;
      else if (word === 'rw') out.readOnly = false;
      else if (word === 'profile=linux-4.0' || word === 'profile=modern') out.profile = word.slice(8) as Profile;
      else throw argError('ERR_INVALID_ARG_VALUE', `Unknown mount option '${word}' (known: dax, nodax, ro, rw, profile=linux-4.0, profile=modern)`);
    }
    return out;
  }
  if (typeof options !== 'object') {
    throw argError('ERR_INVALID_ARG_TYPE', `The "options" argument must be a string or an object. Received type ${typeof options}`);
  }
  for (const key of ['dax', 'readOnly'] as const) {
    const v = options[key];
    if (v !== undefined && typeof v !== 'boolean') throw argError('ERR_INVALID_ARG_TYPE', `The "options.${key}" property must be of type boolean`);
    if (v !== undefined) out[key] = v;
  }
  if (options.profile !== undefined) {
    if (options.profile !== 'linux-4.0' && options.profile !== 'modern') {
      throw argError('ERR_INVALID_ARG_VALUE', `The property 'options.profile' must be 'linux-4.0' or 'modern'. Received '${String(options.profile)}'`);
    }
    out.profile = options.profile;
  }
  return out;
}
