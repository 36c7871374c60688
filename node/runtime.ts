/**
 * Process setup shared by every command: pick the tfjs backend once (printing the one line that says which and
 * why); selection also installs the kernel fixes and fast paths that backend needs.
 */
import { tf } from '../src/tf.js';
import { selectNodeBackend } from './backend.js';
import './index.js';

let ready: Promise<string> | null = null;

/** Selects the backend once per process (`--backend` beats `MULTI_TOKEN_BACKEND`); returns its tfjs name. */
export function initRuntime(opts: { backend?: string; quiet?: boolean } = {}): Promise<string> {
  ready ??= (async () => {
    await selectNodeBackend({ force: opts.backend, quiet: opts.quiet });
    return tf.getBackend();
  })();
  return ready;
}
