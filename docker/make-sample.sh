#!/bin/sh
# Build the sample SageMaker input tree from the hash-pinned gensim wheel (run inside `docker build`).
# Usage: make-sample.sh WHEEL_DIR OUT_DIR CONFIG_DIR
set -eu
wheel_dir=$1 out=$2 config=$3
member=gensim/test/test_data/pang_lee_polarity.cor
expected=662c1b7c3bd0612eaaaf3f0c694cbd3897e30c0d87d2940b46c9fd0d15ed70c1
work=$(mktemp -d)
python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
  "$(ls "$wheel_dir"/gensim-4.4.0-*.whl)" "$member" "$work"
actual=$(sha256sum "$work/$member" | cut -d' ' -f1)
[ "$actual" = "$expected" ] || { echo "unexpected $member (sha256 $actual)" >&2; exit 1; }
mkdir -p "$out/input/config" "$out/input/data/train" "$out/input/data/validation"
iconv -f cp1252 -t utf-8 "$work/$member" > "$work/pang_lee.txt"
awk 'NR % 5 != 0' "$work/pang_lee.txt" > "$out/input/data/train/pang_lee_train.txt"
awk 'NR % 5 == 0' "$work/pang_lee.txt" > "$out/input/data/validation/pang_lee_validation.txt"
cp "$config/hyperparameters.json" "$config/inputdataconfig.json" "$out/input/config/"
cp "$config/README.md" "$out/README.md"
rm -rf "$work"
