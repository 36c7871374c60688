/**
 * Quantizes the decoder Linears of a checkpoint's file set (in memory) into the QUANT-LAYOUT.md layout with the
 * fixture quantizer, and returns it with its float twin: the same files with every quantized weight replaced by
 * its dequantized float32 values, which the tfjs model must decode exactly like the quantized one on the GPU.
 * (A stand-in for `multi-token quantize` of issue #14 until the branches meet; see quantize-fixture.ts.)
 */
import { parseSafetensors, rawToFloat32, float32ToRaw, serializeSafetensors, type RawTensor } from '../../src/io/safetensors.js';
import { dequantize, packQuantized, packedLayout } from '../../kernels/packed-weight.js';
import { quantizeWeight } from './quantize-fixture.js';

const LINEARS = /^model\.layers\.\d+\.(self_attn\.[qkvo]_proj|mlp\.(gate|up|down)_proj)\.weight$/;

export function quantizeFiles(
  files: Map<string, Uint8Array | string>,
  bits: 4 | 8,
  groupSize: number,
  sym: boolean,
): { quantized: Map<string, Uint8Array | string>; float: Map<string, Uint8Array | string> } {
  const st = files.get('model.safetensors');
  if (!(st instanceof Uint8Array)) throw new Error('quantizeFiles: no model.safetensors');
  const { tensors } = parseSafetensors(st);
  const q = new Map<string, RawTensor>();
  const f = new Map<string, RawTensor>();
  for (const [name, t] of tensors) {
    if (!LINEARS.test(name)) {
      q.set(name, t);
      f.set(name, t);
      continue;
    }
    const [N, K] = t.shape;
    const r = quantizeWeight(rawToFloat32(t), N, K, bits, groupSize, sym);
    const prefix = name.slice(0, -'.weight'.length);
    q.set(`${prefix}.qweight`, r.qweight);
    q.set(`${prefix}.scales`, r.scales);
    if (r.qzeros) q.set(`${prefix}.qzeros`, r.qzeros);
    const layout = packedLayout(bits === 4 ? 'q4' : 'q8', N, K, { groupSize, hasZeros: !sym });
    f.set(name, float32ToRaw(dequantize(packQuantized(layout, r.qweight.data, r.scales.data, r.qzeros?.data ?? null)), t.shape, 'F32'));
  }
  const cfgText = files.get('config.json');
  const config = JSON.parse(typeof cfgText === 'string' ? cfgText : new TextDecoder().decode(cfgText));
  const quantized = new Map(files);
  quantized.set('model.safetensors', serializeSafetensors(q, { format: 'pt' }));
  quantized.set('config.json', JSON.stringify({ ...config, quantization_config: { quant_method: 'matmul_nbits', bits, group_size: groupSize, sym, modules_not_to_convert: ['lm_head'] } }));
  const float = new Map(files);
  float.set('model.safetensors', serializeSafetensors(f, { format: 'pt' }));
  return { quantized, float };
}
