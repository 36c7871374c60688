/**
 * Registers every built-in modality kind and builder (the seed's MODALITY_BUILDERS and ours). Imported by
 * the loader and the package entry points, so `buildModalities('vision_clip')` works without more imports.
 *
 * | builder            | modality (token, data key)                         | encoder                         |
 * |--------------------|----------------------------------------------------|---------------------------------|
 * | vector             | vector (`<vector>`, vectors)                       | none                            |
 * | vision_clip        | vision_clip (`<image>`, images), patch tokens      | CLIP vision                     |
 * | vision_clip_pool   | vision_clip (`<image>`, images), 10 tokens         | CLIP vision                     |
 * | video_clip         | video_clip (`<video>`, videos), 10 tokens          | CLIP vision per frame           |
 * | video_xclip        | video_xclip (`<video>`, videos), 10 tokens         | X-CLIP video (cross-frame, MIT) |
 * | audio_whisper      | audio_whisper (`<speech>`, speech_audios), 10      | Whisper                         |
 * | document_gte(_x16) | document_gte (`<document>`, documents), 4 / 32     | BERT/GTE                        |
 * | audio_clap         | audio_clap (`<sound>`, sounds), 5                  | ONNX export of CLAP audio       |
 * | imagebind          | imagebind (`<imagebind>`, imagebinds), 4           | ONNX exports of ImageBind       |
 * | onnx               | any (configurable)                                 | any ONNX encoder                |
 */
import './registry.js';
import './builtin-vision.js';
import './builtin-audio.js';
import './builtin-document.js';
import './builtin-onnx.js';
import './builtin-video.js';
