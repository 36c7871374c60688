/**
 * Hands files to the user as one .zip download, made in the tab (fflate) and given to the browser as a blob:
 * URL, so saving it sends nothing over the network.
 */
import { zipSync, type Zippable } from 'fflate';

/** Zips `files` under one top folder `folder/` (what unzipping should produce). Safetensors are stored, not deflated. */
export function zipFolder(folder: string, files: Map<string, Uint8Array | string>): Uint8Array {
  const tree: Zippable = {};
  for (const [name, data] of files) {
    const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
    // Float weights barely compress; storing them keeps a large adapter's download instant.
    tree[`${folder}/${name}`] = /\.(safetensors|bin)$/.test(name) ? [bytes, { level: 0 }] : bytes;
  }
  return zipSync(tree);
}

/** Starts a download of `bytes` as `fileName`. */
export function saveBytes(bytes: Uint8Array, fileName: string, type = 'application/zip'): void {
  const url = URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  // The browser has taken the blob by the time the click handler returns; keep it a little for slow ones.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}
