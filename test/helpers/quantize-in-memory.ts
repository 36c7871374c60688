/**
 * Quantized checkpoints in memory for tests, with `multi-token quantize`'s quantizer (src/quant/nbits.ts, issue
 * #14) and its policy (src/quant/config.ts: decoder Linears only, lm_head on request): the tensors it writes, and
 * the float32 weights they dequantize to (`dequantizeRows`), which a tfjs model must decode exactly like the
 * quantized checkpoint on the GPU.
 */
import { float32ToRaw, parseSafetensors, rawToFloat32, serializeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { dequantizeRows, quantizeNBits, zeroRowBytes, blockCount, blobSize, type NBitsMatrix, type QuantBits } from '../../src/quant/nbits.js';
import { isQuantizedModule, quantizationConfigJSON } from '../../src/quant/config.js';

/** The three stored tensors of a quantized matrix (QUANT-LAYOUT.md). */
export function nbitsTensors(m: NBitsMatrix): { qweight: RawTensor; scales: RawTensor; qzeros: RawTensor | null } {
  const nb = blockCount(m);
  return {
    qweight: { dtype: 'U8', shape: [m.n, nb, blobSize(m)], data: m.qweight },
    scales: { dtype: 'F16', shape: [m.n, nb], data: new Uint8Array(m.scales.buffer, m.scales.byteOffset, m.scales.byteLength) },
    qzeros: m.qzeros ? { dtype: 'U8', shape: [m.n, zeroRowBytes(m)], data: m.qzeros } : null,
  };
}

/** Options of {@link quantizeTensors}. */
export interface QuantizeInMemory {
  bits: QuantBits;
  groupSize: number;
  sym: boolean;
  /** Also quantize lm_head (`multi-token quantize --lm_head`). */
  lmHead?: boolean;
}

/**
 * Quantizes the float tensors of a checkpoint: `stored` as the quantized safetensors holds them, `reference`
 * with every quantized weight replaced by its dequantized float32 values.
 */
export function quantizeTensors(tensors: Map<string, RawTensor>, q: QuantizeInMemory): { stored: Map<string, RawTensor>; reference: Map<string, RawTensor> } {
  const stored = new Map<string, RawTensor>();
  const reference = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    const module = name.endsWith('.weight') ? name.slice(0, -'.weight'.length) : '';
    if (!module || t.shape.length !== 2 || !isQuantizedModule(module, { lmHead: q.lmHead })) {
      stored.set(name, t);
      reference.set(name, t);
      continue;
    }
    const [n, k] = t.shape;
    const m = quantizeNBits(rawToFloat32(t), { n, k, bits: q.bits, groupSize: q.groupSize }, q.sym, name);
    const s = nbitsTensors(m);
    stored.set(`${module}.qweight`, s.qweight);
    stored.set(`${module}.scales`, s.scales);
    if (s.qzeros) stored.set(`${module}.qzeros`, s.qzeros);
    reference.set(name, float32ToRaw(dequantizeRows(m), t.shape, 'F32'));
  }
  return { stored, reference };
}

/** The `quantization_config` `multi-token quantize` writes for these options. */
export function quantizationConfigFor(q: QuantizeInMemory): Record<string, unknown> {
  return quantizationConfigJSON({ quantMethod: 'matmul_nbits', bits: q.bits, groupSize: q.groupSize, sym: q.sym, modulesNotToConvert: q.lmHead ? [] : ['lm_head'] });
}

/**
 * A checkpoint's file set quantized in memory, and its float twin (the same files with the dequantized
 * weights), e.g. for a model made by `makeTinyLMFiles`.
 */
export function quantizeFiles(files: Map<string, Uint8Array | string>, q: QuantizeInMemory): { quantized: Map<string, Uint8Array | string>; float: Map<string, Uint8Array | string> } {
  const st = files.get('model.safetensors');
  if (!(st instanceof Uint8Array)) throw new Error('quantizeFiles: no model.safetensors');
  const { stored, reference } = quantizeTensors(parseSafetensors(st).tensors, q);
  const cfgText = files.get('config.json')!;
  const config = JSON.parse(typeof cfgText === 'string' ? cfgText : new TextDecoder().decode(cfgText));
  const quantized = new Map(files);
  quantized.set('model.safetensors', serializeSafetensors(stored, { format: 'pt' }));
  quantized.set('config.json', JSON.stringify({ ...config, quantization_config: quantizationConfigFor(q) }));
  const float = new Map(files);
  float.set('model.safetensors', serializeSafetensors(reference, { format: 'pt' }));
  return { quantized, float };
}
