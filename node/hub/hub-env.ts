/**
 * The Hugging Face environment variables, read the way Python's `huggingface_hub` reads them, so one shell setup
 * serves both: `HF_ENDPOINT`, `HF_TOKEN` (or the token file `huggingface-cli login` writes), `HF_HUB_OFFLINE`,
 * and the cache folder (`HF_HUB_CACHE`, else `HF_HOME/hub`, else `~/.cache/huggingface/hub`).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import * as path from 'node:path';
import { getHFHubCachePath } from '@huggingface/hub';
import { DEFAULT_HUB_ENDPOINT } from '../../src/io/hub-id.js';

/** Everything a hub download needs to know, resolved once per call. */
export interface HubEnv {
  endpoint: string;
  token?: string;
  offline: boolean;
  cacheDir: string;
}

/** `huggingface_hub`'s truthy values for boolean variables. */
function truthy(v: string | undefined): boolean {
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

function hfHome(env: NodeJS.ProcessEnv): string {
  return env.HF_HOME ?? path.join(env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'huggingface');
}

/** The token: `HF_TOKEN`, then the older `HUGGING_FACE_HUB_TOKEN`, then the file `huggingface-cli login` wrote. */
function token(env: NodeJS.ProcessEnv): string | undefined {
  const fromEnv = env.HF_TOKEN ?? env.HUGGING_FACE_HUB_TOKEN;
  if (fromEnv?.trim()) return fromEnv.trim();
  try {
    const t = readFileSync(env.HF_TOKEN_PATH ?? path.join(hfHome(env), 'token'), 'utf8').trim();
    return t || undefined;
  } catch {
    return undefined;
  }
}

/** Reads the variables now (tests change them between runs). */
export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  // The client's own reader covers HF_HUB_CACHE / HUGGINGFACE_HUB_CACHE / HF_HOME / XDG_CACHE_HOME, but only from
  // process.env; an explicit `env` (tests) is read here the same way.
  const cacheDir = env === process.env ? getHFHubCachePath() : (env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE ?? path.join(hfHome(env), 'hub'));
  return {
    endpoint: (env.HF_ENDPOINT?.trim() || DEFAULT_HUB_ENDPOINT).replace(/\/+$/, ''),
    token: token(env),
    offline: truthy(env.HF_HUB_OFFLINE) || truthy(env.TRANSFORMERS_OFFLINE),
    cacheDir,
  };
}
