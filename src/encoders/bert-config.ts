/**
 * The `config.json` fields a BERT encoder (BERT, GTE, BGE, E5, MiniLM sentence encoders) needs, read with the
 * defaults `transformers.BertConfig` uses so a minimal config behaves as in Python.
 */

/** A parsed BERT `config.json`. */
export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  /** Hugging Face `hidden_act` name (`gelu` for BERT/GTE). */
  hiddenAct: string;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  padTokenId: number;
}

function num(c: Record<string, unknown>, key: string, where: string, fallback?: number): number {
  const v = c[key] ?? fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`${where}: "${key}" must be a number (got ${JSON.stringify(c[key])})`);
  }
  return v;
}

/**
 * Parses a BERT config.json. `where` names the file in errors. Only absolute position embeddings are supported
 * (every BERT/GTE checkpoint); relative-key variants are refused rather than silently computed wrong.
 */
export function parseBertConfig(json: unknown, where = 'config.json'): BertConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where} is not a JSON object`);
  const c = json as Record<string, unknown>;
  const positionType = c.position_embedding_type ?? 'absolute';
  if (positionType !== 'absolute') {
    throw new Error(`${where}: position_embedding_type "${String(positionType)}" is not supported (only "absolute")`);
  }
  const config: BertConfig = {
    vocabSize: num(c, 'vocab_size', where),
    hiddenSize: num(c, 'hidden_size', where, 768),
    numHiddenLayers: num(c, 'num_hidden_layers', where, 12),
    numAttentionHeads: num(c, 'num_attention_heads', where, 12),
    intermediateSize: num(c, 'intermediate_size', where, 3072),
    hiddenAct: typeof c.hidden_act === 'string' ? c.hidden_act : 'gelu',
    maxPositionEmbeddings: num(c, 'max_position_embeddings', where, 512),
    typeVocabSize: num(c, 'type_vocab_size', where, 2),
    layerNormEps: num(c, 'layer_norm_eps', where, 1e-12),
    padTokenId: num(c, 'pad_token_id', where, 0),
  };
  if (config.hiddenSize % config.numAttentionHeads !== 0) {
    throw new Error(
      `${where}: hidden_size ${config.hiddenSize} is not divisible by num_attention_heads ${config.numAttentionHeads}`,
    );
  }
  return config;
}
