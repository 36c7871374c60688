/**
 * How much memory a model may take in this Node process, for the fit check that runs before loading
 * (src/lm/memory-plan.ts): MemAvailable (Linux; `os.freemem()` elsewhere), lowered to the cgroup's
 * `memory.max` when a container sets one, or `MULTI_TOKEN_MEMORY_LIMIT` (e.g. `2.5GB`, `800MB`) when set.
 * On the wasm backend, what tfjs holds must also fit the 4 GiB wasm32 heap. Installed by node/platform.ts.
 */
import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';
import { tf } from '../src/tf.js';
import type { MemoryBudget } from '../src/lm/memory-plan.js';

const WASM_HEAP = 2 ** 32;

/** Parses `2.5GB`, `800MB`, `123456` (bytes). */
export function parseBytes(text: string): number {
  const m = /^\s*([\d.]+)\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)?\s*$/i.exec(text);
  if (!m) throw new Error(`MULTI_TOKEN_MEMORY_LIMIT: cannot read "${text}" as a size (e.g. 2.5GB, 800MB)`);
  const unit = (m[2] ?? 'b').toLowerCase();
  const mult: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 };
  return Number(m[1]) * mult[unit]!;
}

function readNumber(file: string, pattern?: RegExp): number | null {
  try {
    const text = readFileSync(file, 'utf8');
    const m = pattern ? pattern.exec(text) : /^\s*(\d+)\s*$/.exec(text);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** The budget right now. */
export function nodeMemoryBudget(): MemoryBudget {
  const forced = process.env.MULTI_TOKEN_MEMORY_LIMIT;
  let budget: MemoryBudget;
  if (forced) {
    budget = { bytes: parseBytes(forced), what: 'MULTI_TOKEN_MEMORY_LIMIT' };
  } else {
    const kb = readNumber('/proc/meminfo', /MemAvailable:\s+(\d+) kB/);
    budget = kb !== null ? { bytes: kb * 1024, what: 'available RAM (MemAvailable)' } : { bytes: freemem(), what: 'free RAM' };
    const max = readNumber('/sys/fs/cgroup/memory.max');
    const cur = readNumber('/sys/fs/cgroup/memory.current');
    if (max !== null && cur !== null && max - cur < budget.bytes) budget = { bytes: max - cur, what: "the container's memory limit (cgroup memory.max, less what is in use)" };
  }
  if (tf.getBackend() === 'wasm') {
    const used = tf.memory().numBytes;
    budget.tfjsBytes = WASM_HEAP - used;
    budget.tfjsWhat = `the wasm heap (4 GiB, ${(used / 1e9).toFixed(2)} GB held by live tensors)`;
  }
  return budget;
}
