/**
 * Preloaded (`--import`) by test/engine-ort-fixtures.test.ts into another test file's process: routes the cpu
 * backend's matmul family through the onnxruntime engine (cpu + onnxruntime) before that file's tests run, and
 * reports at exit how many products onnxruntime ran, so the parent can tell it was really used.
 */
import { writeSync } from 'node:fs';
import { tf } from '../../src/tf.js';
import { installOrtEngine } from '../../node/ort/engine.js';
import { ortStats } from '../../node/ort/binding.js';

await tf.setBackend('cpu');
installOrtEngine('cpu');
process.on('exit', () => {
  writeSync(2, `[ort-engine-preload] backend ${tf.getBackend()}, onnxruntime runs: ${ortStats.runs}\n`);
});
