#!/usr/bin/env bash
# Checks that scripts/make-demo-model.sh is reproducible: runs a shortened recipe (same steps, far fewer rows
# and steps; a few minutes) twice into two folders and compares every file byte for byte. The only file allowed
# to differ is trainer_state.json, whose log records measured tokens per second.
#
#   bash scripts/check-demo-reproducible.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
WORK="${1:-.demo-repro}"
rm -rf "$WORK"
mkdir -p "$WORK"
export DEMO_ROWS=64 DEMO_DRILLS=32 DEMO_TEST=12 DEMO_VISION_STEPS=4 DEMO_EPOCHS=1
for k in a b; do
  DEMO_OUT="$WORK/out-$k" bash scripts/make-demo-model.sh "$WORK/build-$k" > "$WORK/log-$k.txt" 2>&1
done
status=0
while IFS= read -r f; do
  [[ "$(basename "$f")" == trainer_state.json ]] && continue
  if ! cmp -s "$WORK/out-a/$f" "$WORK/out-b/$f"; then
    echo "differs: $f"
    status=1
  fi
done < <(cd "$WORK/out-a" && find . -type f | sort)
diff <(cd "$WORK/out-a" && find . -type f | sort) <(cd "$WORK/out-b" && find . -type f | sort) || status=1
# The generated data (pictures, rows, tokenizer corpus) must match too.
diff -r -q "$WORK/build-a/data" "$WORK/build-b/data" || status=1
if [[ $status == 0 ]]; then
  echo "reproducible: $(cd "$WORK/out-a" && find . -type f | wc -l) files identical (trainer_state.json aside), data identical"
  (cd "$WORK/out-a" && sha256sum model.safetensors tokenizer.json vision_clip_encoder/model.safetensors non_lora_trainables.safetensors)
fi
exit $status
