#!/usr/bin/env bash
# Reproduces models/demo: the embedded default model that `npm start` serves.
#
#   bash scripts/make-demo-model.sh [WORK_DIR]
#
# 1. generate the synthetic coloured-shapes dataset (images drawn by code, questions and answers);
# 2. make a tiny random base: a CLIP-architecture vision encoder + projector + Llama-architecture LM, with a
#    tokenizer fitted to the dataset's text;
# 3. train everything end to end (LM, projector and the vision encoder) with `multi-token train`;
# 4. evaluate on held-out images and copy the model to models/demo.
# On a 2-core machine (wasm backend) training takes about an hour.
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-.demo-build}"
MT="node bin/multi-token.js"
mkdir -p "$WORK"

$MT dataset synth-shapes --out "$WORK/data" --n 6000 --seed 1 --image_size 64

$MT make-tiny --out "$WORK/base" --lmm --modalities vision_clip --arch llama --style llama3 --seed 7 \
  --hidden_size 128 --intermediate_size 344 --layers 4 --heads 4 --kv_heads 2 --vocab_size 640 \
  --tokenizer_corpus "$WORK/data/train.jsonl" \
  --image_size 48 --patch_size 8 --vision_hidden_size 64 --vision_layers 2

$MT train --model_name_or_path "$WORK/base" --model_cls LlamaLMMForCausalLM \
  --dataset_path "$WORK/data" --output_dir "$WORK/run" \
  --train_encoders --num_train_epochs 3 --per_device_train_batch_size 16 \
  --learning_rate 2e-3 --lr_scheduler_type cosine --warmup_ratio 0.03 --weight_decay 0.01 \
  --model_max_length 256 --logging_steps 10 --save_steps 200 --save_total_limit 2 --seed 1

$MT eval --model "$WORK/run" --dataset "$WORK/data" | tee "$WORK/eval.txt"

rm -rf models/demo
mkdir -p models/demo
cp -r "$WORK/run/"{config.json,model.safetensors,non_lora_trainables.safetensors,non_lora_trainables.bin,tokenizer.json,tokenizer_config.json,special_tokens_map.json,generation_config.json,vision_clip_encoder,README.md,loss.svg,trainer_state.json} models/demo/
cp "$WORK/eval.txt" models/demo/eval.txt
du -sh models/demo
