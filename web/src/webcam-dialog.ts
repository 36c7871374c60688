/** The page's webcam dialog (in index.html), shared by the chat composer and the training panel. */
import { webcamSnapshot } from './media-capture.js';
import { byId } from './ui.js';

/** Shows the camera until the user takes a photo (returns it as a PNG file) or cancels (returns null). */
export async function takeWebcamPhoto(): Promise<File | null> {
  const dialog = byId<HTMLDialogElement>('webcam-dialog');
  const snap = new Promise<void>((ok, cancel) => {
    byId('snap').onclick = () => ok();
    byId('snap-cancel').onclick = () => cancel(new DOMException('cancelled', 'AbortError'));
    dialog.onclose = () => cancel(new DOMException('cancelled', 'AbortError'));
  });
  dialog.showModal();
  try {
    return await webcamSnapshot(byId<HTMLVideoElement>('webcam-video'), snap);
  } catch (e) {
    if ((e as Error).name === 'AbortError') return null;
    throw e;
  } finally {
    dialog.onclose = null;
    dialog.close();
  }
}
