/**
 * Hugging Face model ids (`org/name`, optionally `org/name@revision`) as model locations. Isomorphic: Node wraps
 * them in a cached download (`node/hub/`), the browser reads them as URLs under `{endpoint}/{id}/resolve/{rev}/`.
 */
import { UrlSource, type ModelSource } from './source.js';

/** The public hub; `HF_ENDPOINT` (Node) or the page's settings replace it. */
export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

/** A parsed model id. */
export interface HubId {
  /** `org/name`. */
  repo: string;
  /** Branch, tag or commit hash; `main` when the id names none. */
  revision: string;
}

// `org/name` as the hub allows them: letters, digits, `-`, `_`, `.`; no `..`, not starting with `-` or `.`.
const PART = '[A-Za-z0-9][A-Za-z0-9._-]*';
const ID_RE = new RegExp(`^(${PART})/(${PART})(?:@([A-Za-z0-9][A-Za-z0-9._/-]*))?$`);

/**
 * Parses `org/name` or `org/name@revision`; anything else (a path with more or fewer segments, `./x/y`, a URL,
 * an absolute path) is not an id and gives `null`. Whether a two-segment string that is also a local folder
 * means the folder is the caller's decision (Node prefers the folder, as Python's `from_pretrained` does).
 */
export function parseHubId(where: string): HubId | null {
  const m = ID_RE.exec(where);
  if (!m) return null;
  const [, org, name, rev] = m;
  if (`${org}/${name}`.includes('..') || (rev !== undefined && rev.split('/').some((p) => p === '..' || p === ''))) return null;
  return { repo: `${org}/${name}`, revision: rev ?? 'main' };
}

/** `{endpoint}/{repo}/resolve/{revision}/` — where the hub serves a revision's files. */
export function hubResolveBase(id: HubId, endpoint = DEFAULT_HUB_ENDPOINT): string {
  return `${endpoint.replace(/\/+$/, '')}/${id.repo}/resolve/${encodeURIComponent(id.revision)}/`;
}

/**
 * A hub model read over plain HTTP (the browser, where there is no disk cache to share with Python tools; the
 * page's own Cache Storage keeps the bytes). Gated models need `token`.
 */
export function hubUrlSource(id: HubId, opts: { endpoint?: string; token?: string; fetchFn?: typeof fetch } = {}): ModelSource {
  const base = opts.fetchFn ?? ((...a: Parameters<typeof fetch>) => fetch(...a));
  const fetchFn: typeof fetch = opts.token
    ? (input, init) => base(input, { ...init, headers: { ...(init?.headers as Record<string, string>), Authorization: `Bearer ${opts.token}` } })
    : base;
  return new UrlSource(hubResolveBase(id, opts.endpoint), fetchFn);
}
