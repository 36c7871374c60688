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
du -sh models/demo
