/**
 * Real chat templates (Jinja, as stored in `tokenizer_config.json`) and the special tokens that go with them,
 * for the tiny tokenizers `make-tiny` builds. Each template is the official one of a well-known model, so tiny
 * checkpoints render conversations exactly as the real models do:
 *
 * - `mistral`: mistralai/Mistral-7B-Instruct-v0.1 (the original template, also used by the seed library):
 *   `<s>[INST] q [/INST]a</s> [INST] q2 [/INST]`; raises on non-alternating roles or a system message.
 * - `llama3`: meta-llama/Meta-Llama-3-8B-Instruct:
 *   `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nq<|eot_id|>…`.
 * - `chatml`: Qwen/Qwen2-7B-Instruct: ChatML with the default system prompt "You are a helpful assistant."
 *   inserted when the conversation has none.
 * - `zephyr`: HuggingFaceH4/zephyr-7b-beta: `<|user|>\nq</s>\n<|assistant|>\na</s>\n`.
 *
 * Templates are written with the `trim_blocks`/`lstrip_blocks` behaviour of transformers (which
 * `@huggingface/jinja` reproduces) in mind: the zephyr template relies on it for its newlines.
 */

/** Names of the built-in chat styles. */
export type ChatStyle = 'mistral' | 'llama3' | 'chatml' | 'zephyr';

/** A chat template plus the special tokens a tokenizer needs to use it. */
export interface ChatTemplateSpec {
  /** The Jinja source, stored as `chat_template` in `tokenizer_config.json`. */
  template: string;
  /** All special tokens of the style, in id order (they become ids 0..k-1 of the tiny tokenizers). */
  specialTokens: string[];
  /** Beginning-of-sequence token, if the style has one. */
  bos?: string;
  /** End-of-sequence token (for instruct models: the end-of-turn token generation stops on). */
  eos: string;
  /** Padding token, if the real tokenizer defines one. */
  pad?: string;
  /** Unknown token, if the real tokenizer defines one (byte-level BPE never produces it). */
  unk?: string;
  /** Whether `tokenizer.json`'s post-processor prepends `bos` when special tokens are added. */
  addBosInPostProcessor: boolean;
}

const MISTRAL =
  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}" +
  "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}" +
  "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}" +
  "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token + ' ' }}" +
  "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

const LLAMA3 =
  '{% set loop_messages = messages %}{% for message in loop_messages %}' +
  "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}" +
  '{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}' +
  "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}";

const CHATML =
  "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}" +
  "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}" +
  "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

const ZEPHYR = [
  '{% for message in messages %}',
  "{% if message['role'] == 'user' %}",
  "{{ '<|user|>\n' + message['content'] + eos_token }}",
  "{% elif message['role'] == 'system' %}",
  "{{ '<|system|>\n' + message['content'] + eos_token }}",
  "{% elif message['role'] == 'assistant' %}",
  "{{ '<|assistant|>\n'  + message['content'] + eos_token }}",
  '{% endif %}',
  '{% if loop.last and add_generation_prompt %}',
  "{{ '<|assistant|>' }}",
  '{% endif %}',
  '{% endfor %}',
].join('\n');

/**
 * The built-in chat styles. Special-token sets and their order follow the real tokenizers: Mistral/Zephyr
 * (`<unk>`=0, `<s>`=1, `</s>`=2, as in the real SentencePiece vocab), Llama-3 (the five tokens its template and
 * generation use; real ids start at 128000), Qwen2 (`<|endoftext|>`, `<|im_start|>`, `<|im_end|>`, in the real
 * relative order). `eos` is the token instruct generation stops on (Llama-3-Instruct: `<|eot_id|>`; Qwen2-Instruct:
 * `<|im_end|>`), as in those models' `tokenizer_config.json`.
 */
export const CHAT_TEMPLATES: Readonly<Record<ChatStyle, Readonly<ChatTemplateSpec>>> = {
  mistral: {
    template: MISTRAL,
    specialTokens: ['<unk>', '<s>', '</s>'],
    bos: '<s>',
    eos: '</s>',
    unk: '<unk>',
    addBosInPostProcessor: true,
  },
  llama3: {
    template: LLAMA3,
    specialTokens: ['<|begin_of_text|>', '<|end_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'],
    bos: '<|begin_of_text|>',
    eos: '<|eot_id|>',
    addBosInPostProcessor: true,
  },
  chatml: {
    template: CHATML,
    specialTokens: ['<|endoftext|>', '<|im_start|>', '<|im_end|>'],
    eos: '<|im_end|>',
    pad: '<|endoftext|>',
    addBosInPostProcessor: false,
  },
  zephyr: {
    template: ZEPHYR,
    specialTokens: ['<unk>', '<s>', '</s>'],
    bos: '<s>',
    eos: '</s>',
    pad: '</s>',
    unk: '<unk>',
    addBosInPostProcessor: true,
  },
};

/** Whether `name` is one of the built-in chat styles. */
export function isChatStyle(name: string): name is ChatStyle {
  return Object.hasOwn(CHAT_TEMPLATES, name);
}
