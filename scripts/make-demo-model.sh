#!/usr/bin/env bash
# Reproduces models/demo: the embedded default model that `npm start` serves.
#
#   bash scripts/make-demo-model.sh [WORK_DIR]
#
# 1. generate the synthetic coloured-shapes data (images drawn by code, questions and answers), plus a set of
#    single-shape images for the vision tower;
# 2. make a tiny random base: a CLIP-architecture vision encoder + projector + Llama-architecture LM, with a
#    tokenizer fitted to the dataset's text;
# 3. pretrain the vision tower as a shape/colour classifier (standing in for CLIP's pretraining, which needs
#    data we cannot download): scripts/pretrain-demo-vision.ts;
# 4. train projector and LM with `multi-token train` (encoder frozen, its features cached);
# 5. evaluate on held-out images and copy the model to models/demo.
# On a 2-core machine (wasm backend) this takes about an hour.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-.demo-build}"
MT="node bin/multi-token.js"
mkdir -p "$WORK"

$MT dataset synth-shapes --out "$WORK/data" --n 8000 --seed 1 --image_size 64
$MT dataset synth-shapes --out "$WORK/vision-data" --n 12000 --seed 2 --image_size 64 --mix shape=1,colour=1

$MT make-tiny --out "$WORK/base" --lmm --modalities vision_clip --arch llama --style llama3 --seed 7 \
  --hidden_size 128 --intermediate_size 344 --layers 4 --heads 4 --kv_heads 2 --vocab_size 640 \
  --tokenizer_corpus "$WORK/data/train.jsonl" \
  --image_size 64 --patch_size 8 --vision_hidden_size 64 --vision_layers 4

npx tsx scripts/pretrain-demo-vision.ts --encoder "$WORK/base/vision_encoder" --data "$WORK/vision-data" --steps 1500

$MT train --model_name_or_path "$WORK/base" --model_cls LlamaLMMForCausalLM \
  --dataset_path "$WORK/data" --output_dir "$WORK/run" --feature_cache "$WORK/features" \
  --num_train_epochs 3 --per_device_train_batch_size 16 \
  --learning_rate 2e-3 --lr_scheduler_type cosine --warmup_ratio 0.03 --weight_decay 0.01 \
  --model_max_length 256 --logging_steps 10 --save_steps 250 --save_total_limit 2 --seed 1 --save_encoders

$MT eval --model "$WORK/run" --dataset "$WORK/data" --show_errors 20 | tee "$WORK/eval.txt"

rm -rf models/demo
mkdir -p models/demo
cp -r "$WORK/run/"{config.json,model.safetensors,non_lora_trainables.safetensors,non_lora_trainables.bin,tokenizer.json,tokenizer_config.json,special_tokens_map.json,generation_config.json,README.md,loss.svg,trainer_state.json,vision_clip_encoder} models/demo/
cp "$WORK/eval.txt" models/demo/eval.txt
# The run's own card names the build folders; the shipped card says what the demo is, how well it does, and how
# to remake it, and keeps the run's training facts.
{
  cat <<'CARD'
---
license: apache-2.0
tags:
  - multimodal
  - multi-token
inference: false
---

# multi-token demo model

The embedded default of [multi-token](../../README.md): a tiny LLaVA-style model that answers questions about
pictures of coloured shapes (red, green, blue, yellow, purple, orange circles, squares, triangles, stars and
diamonds on white). It is trained from scratch on data the project generates (`multi-token dataset
synth-shapes`), so it knows nothing else: a photo gets an answer about shapes, and text-only chat is not its job.

- vision: CLIP-architecture encoder (64×64 input, 8×8 patches, 4 layers, width 64), pretrained as a shape and
  colour classifier, then frozen; its layer −2 patch states (64 per image) go through an `mlp2x_gelu` projector
- language: Llama-architecture decoder (hidden 128, 4 layers, 4 heads / 2 KV heads, vocab 640, Llama-3 chat
  template), trained in full with the projector

```bash
npx multi-token generate --model models/demo --images examples/red-circle.png --prompt "What colour is the shape in <image>?"
```

## Held-out accuracy (`multi-token eval`, exact match, greedy)

```
CARD
  head -n 9 "$WORK/eval.txt"
  cat <<'CARD'
```

Colour and shape of a single shape are reliable, and so are captions of one-shape pictures. Several shapes in one
picture are not: their captions are mostly wrong, and counting, "is there a …" and "which of two images" questions
are close to chance — the frozen encoder was pretrained on one shape per image.

Remake it with `bash scripts/make-demo-model.sh` (about an hour on 2 CPU cores).

CARD
  sed -n '/^### Training/,$p' "$WORK/run/README.md"
} > models/demo/README.md
du -sh models/demo
