/** Small DOM helpers shared by the page's parts (no framework: the page is a few forms and a list). */

/** The element with this id, typed; throws at start-up if index.html lacks it (a build mistake, not a user error). */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`index.html has no #${id}`);
  return el as T;
}

/** Creates an element with a class and text. */
export function el<K extends keyof HTMLElementTagNameMap>(tag: K, className = '', text = ''): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text) e.textContent = text;
  return e;
}

/** How a notice looks: `info` (blue), `warn` (amber: works, but…), `error` (red: something failed). */
export type NoticeKind = 'info' | 'warn' | 'error';

/**
 * Shows a dismissable message above the chat. A notice with an `id` replaces the previous one with that id
 * (so repeated load attempts do not stack errors). `detail` is a second, smaller line (the technical reason),
 * kept apart so the first line stays short on a phone.
 */
export function notice(kind: NoticeKind, text: string, id?: string, detail?: string): HTMLElement {
  const box = byId('notices');
  const existing = id ? box.querySelector<HTMLElement>(`[data-id="${id}"]`) : null;
  const n = existing ?? el('div', '');
  n.className = `notice notice-${kind}`;
  n.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  if (id) n.dataset.id = id;
  const body = el('div', 'notice-text', text);
  if (detail) body.append(el('small', 'notice-detail', detail));
  n.replaceChildren(body);
  const close = el('button', 'notice-close', '×');
  close.type = 'button';
  close.title = 'Dismiss';
  close.addEventListener('click', () => n.remove());
  n.append(close);
  if (!existing) box.append(n);
  return n;
}

/** Removes the notice with this id, if shown. */
export function clearNotice(id: string): void {
  byId('notices').querySelector(`[data-id="${id}"]`)?.remove();
}

/** The message of anything thrown. */
export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
