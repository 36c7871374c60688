/**
 * A seed user's first hour: the seed README's own commands — pretrain, finetune, upload, serve, the `/generate`
 * request — run through the CLI with only the model ids swapped for the mock hub's tiny ones (and the dataset,
 * output folders and image source made local). `vision_clip` is given no encoder, as in the seed: it uses its
 * default id, openai/clip-vit-large-patch14-336, which the mock hub serves as a tiny CLIP. The first run downloads
 * into a fresh HF_HOME; the finetune reuses the cache; the server then runs with HF_HUB_OFFLINE=1 and the hub shut
 * down.
 *
 * Two departures from the README's text, both its slips: its finetune command repeats `--pretrain_projectors`
 * (that would only retrain the projectors; the section is about the LoRA finetune, so the flag is dropped) and
 * writes into the pretraining folder (a resumed run of another kind is refused here; it gets its own folder).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { MockHub } from './helpers/mock-hub.js';
import { colourPng, runCli, waitForLog } from './helpers/seed-cli.js';
import { makeTinyLMFiles } from '../src/tiny/tiny-lmm.js';
import { makeTinyClipVision } from '../src/tiny/tiny-clip.js';

const BASE = 'tiny-mistralai/Mistral-7B-Instruct-v0.1';
const hub = new MockHub();
let tmp = '';
let env: Record<string, string> = {};

before(async () => {
  await hub.start();
  tmp = await mkdtemp(path.join(tmpdir(), 'seed-readme-'));
  hub.publish(BASE, await makeTinyLMFiles({ arch: 'mistral', hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2, seed: 3 }));
  hub.publish('openai/clip-vit-large-patch14-336', makeTinyClipVision({ imageSize: 32, seed: 4 }));
  env = { HF_ENDPOINT: hub.url, HF_HOME: path.join(tmp, 'hf-home') };
  const colours: [string, [number, number, number]][] = [['red', [220, 20, 20]], ['green', [20, 200, 40]], ['blue', [30, 40, 220]], ['yellow', [230, 220, 30]]];
  const rows = [];
  for (const [name, rgb] of colours) {
    await writeFile(path.join(tmp, `${name}.png`), colourPng(rgb));
    rows.push({ id: name, images: [path.join(tmp, `${name}.png`)], messages: [{ role: 'user', content: 'Describe <image>' }, { role: 'assistant', content: `This is ${name}.` }] });
  }
  await writeFile(path.join(tmp, 'captions.json'), JSON.stringify(rows));
});
after(async () => {
  await hub.stop();
  await rm(tmp, { recursive: true, force: true });
});

/** The README's training flags after `--dataset_path` (verbatim). */
const HF_FLAGS = ['--lora_enable', 'True', '--bf16', 'True', '--tf32', 'True', '--num_train_epochs', '1', '--gradient_checkpointing', 'True',
  '--per_device_train_batch_size', '1', '--per_device_eval_batch_size', '1', '--gradient_accumulation_steps', '32', '--model_max_length', '2048',
  '--evaluation_strategy', 'no', '--save_strategy', 'steps', '--save_steps', '1000', '--save_total_limit', '1', '--learning_rate', '1e-5',
  '--weight_decay', '0.', '--warmup_ratio', '0.03', '--lr_scheduler_type', 'cosine', '--dataloader_num_workers', '2', '--logging_steps', '1',
  '--report_to', 'wandb', '--deepspeed', './configs/zero2.json'];

test("the seed README's commands: pretrain, LoRA finetune, upload, serve offline, POST /generate", async () => {
  const data = path.join(tmp, 'captions.json');
  const pretrain = path.join(tmp, 'output', 'my_lmm_pretrain');
  const p = await runCli(['train', '--model_name_or_path', BASE, '--model_cls', 'MistralLMMForCausalLM', '--modality_builder', 'vision_clip',
    '--dataset_path', data, '--output_dir', pretrain, '--pretrain_projectors', ...HF_FLAGS], env).done;
  assert.equal(p.code, 0, p.log);
  assert.match(p.log, /--deepspeed is ignored here/);
  assert.match(p.log, /downloading openai\/clip-vit-large-patch14-336\/model.safetensors/, 'the default encoder id came from the hub');
  const projectors = path.join(pretrain, 'checkpoint-1', 'non_lora_trainables.bin');
  assert.ok(existsSync(projectors), p.log);
  const downloads = hub.requests.filter((r) => r.method === 'GET' && r.path.includes('/resolve/') && r.status === 200).length;
  assert.ok(downloads > 0);

  const finetune = path.join(tmp, 'output', 'lmm_just_trained_folder');
  const f = await runCli(['train', '--model_name_or_path', BASE, '--model_cls', 'MistralLMMForCausalLM', '--modality_builder', 'vision_clip',
    '--pretrained_projectors_path', projectors, '--dataset_path', data, '--output_dir', finetune, ...HF_FLAGS], env).done;
  assert.equal(f.code, 0, f.log);
  assert.match(f.log, /training \(lora\)/);
  assert.equal(hub.requests.filter((r) => r.method === 'GET' && r.path.includes('/resolve/') && r.status === 200).length, downloads, 'the second run downloads nothing');
  assert.ok(existsSync(path.join(finetune, 'adapter_model.safetensors')));

  // python scripts/upload_model.py -r username/my-new-lmm -m /data/output/lmm_just_trained_folder
  const u = await runCli(['upload', '-r', 'username/my-new-lmm', '-m', finetune], { ...env, HF_TOKEN: hub.token }).done;
  assert.equal(u.code, 0, u.log);
  const uploaded = [...hub.files('username/my-new-lmm')!.keys()];
  for (const name of ['config.json', 'README.md', 'adapter_config.json', 'adapter_model.safetensors', 'non_lora_trainables.bin', 'tokenizer.json']) {
    assert.ok(uploaded.includes(name), `${name} uploaded: ${uploaded}`);
  }
  assert.ok(!uploaded.some((n) => n.startsWith('checkpoint-')), 'no checkpoints');

  // Serve offline, the hub gone: everything comes from HF_HOME.
  await hub.stop();
  const s = runCli(['serve', '--model_name_or_path', BASE, '--model_lora_path', finetune, '--port', '0'], { ...env, HF_HUB_OFFLINE: '1' });
  try {
    const [, url] = await waitForLog(s, /serving .* at (http:\/\/127\.0\.0\.1:\d+)/);
    const res = await fetch(`${url}/generate`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        messages: [{ role: 'user', content: 'What are things I should be cautious about when I visit this place? <image>' }],
        images: [`data:image/png;base64,${Buffer.from(colourPng([220, 20, 20])).toString('base64')}`],
      }),
    });
    const body = (await res.json()) as { output?: unknown };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(typeof body.output, 'string');
  } finally {
    s.child.kill('SIGTERM');
    await s.done;
  }
});
