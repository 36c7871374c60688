import type { ProjectorSpec } from './projector.js';

/**
 * How the projector a modality builds now differs from the one a checkpoint was trained with (the copy of
 * `projectorSpec` that saving keeps in config.json), or null when they agree. A modality whose `toConfig()`
 * leaves out an option that shapes its projector (depth, input width, token count) rebuilds with another
 * spec; loading the trained weights into it would fail at a tensor name or, worse, drop layers silently.
 */
export function projectorSpecDifference(saved: ProjectorSpec, built: ProjectorSpec): string | null {
  const fields = ['type', 'inputSize', 'layers', 'numTokens'] as const;
  const diffs: string[] = [];
  for (const f of fields) {
    const [s, b] = [(saved as Record<string, unknown>)[f], (built as Record<string, unknown>)[f]];
    if (s !== b) diffs.push(`${f} ${JSON.stringify(s)} saved, ${JSON.stringify(b)} rebuilt`);
  }
  return diffs.length ? diffs.join(', ') : null;
}
