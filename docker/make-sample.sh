#!/bin/sh
# Build the sample SageMaker input trees and the evaluation sets from the hash-pinned gensim wheel's
# test_data (run inside `docker build`). Usage: make-sample.sh WHEEL_DIR OUT_DIR CONFIG_DIR EVAL_DIR
set -eu
wheel_dir=$1 out=$2 config=$3 eval_dir=$4
work=$(mktemp -d)
data=gensim/test/test_data
extract() {  # extract MEMBER SHA256: one file of the wheel, checked
  python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extract(sys.argv[2], sys.argv[3])' \
    "$(ls "$wheel_dir"/gensim-4.4.0-*.whl)" "$data/$1" "$work"
  actual=$(sha256sum "$work/$data/$1" | cut -d' ' -f1)
  [ "$actual" = "$2" ] || { echo "unexpected $1 (sha256 $actual)" >&2; exit 1; }
}
extract pang_lee_polarity.cor 662c1b7c3bd0612eaaaf3f0c694cbd3897e30c0d87d2940b46c9fd0d15ed70c1
extract wordsim353.tsv f92a022fc2537793a15bc3a8c162ebcd74990e033a228bb6388cb71e4c0b1e1d
extract simlex999.txt d5e0501971478a511430ee880bd0121e94ac701ba86d90544d83e6d2ba3db05d
extract questions-words.txt 8c29b3332afc46f3fb8be04cb5297bf96f39aa7131272dff57869b4485b22a36
enwiki=enwiki-latest-pages-articles1.xml-p000000010p000030302-shortened.bz2
extract "$enwiki" a53f4648dec40467ebdcbc7a1307eddb51fe6e28e9309f6ebde81ba0d04bea2d

# classification sample: Pang & Lee sentiment sentences (cp1252 in the wheel), 4/5 train, 1/5 validation
mkdir -p "$out/input/config" "$out/input/data/train" "$out/input/data/validation"
iconv -f cp1252 -t utf-8 "$work/$data/pang_lee_polarity.cor" > "$work/pang_lee.txt"
awk 'NR % 5 != 0' "$work/pang_lee.txt" > "$out/input/data/train/pang_lee_train.txt"
awk 'NR % 5 == 0' "$work/pang_lee.txt" > "$out/input/data/validation/pang_lee_validation.txt"
cp "$config/hyperparameters.json" "$config/inputdataconfig.json" "$out/input/config/"
cp "$config/README.md" "$out/README.md"

# embeddings sample: a shortened English Wikipedia dump, prepared and trained in one job
emb="$out/embeddings"
mkdir -p "$emb/input/config" "$emb/input/data/train"
cp "$work/$data/$enwiki" "$emb/input/data/train/enwiki-sample.xml.bz2"
cp "$config/embeddings/hyperparameters.json" "$config/embeddings/inputdataconfig.json" "$emb/input/config/"

# entity-ranking sample: the same dump, as a knowledge base (cross-validated in the job)
ent="$out/entities"
mkdir -p "$ent/input/config" "$ent/input/data/train"
mv "$work/$data/$enwiki" "$ent/input/data/train/enwiki-sample.xml.bz2"
cp "$config/entities/hyperparameters.json" "$config/entities/inputdataconfig.json" "$ent/input/config/"

# evaluation sets read by every embeddings job (train/evaluation.py)
mkdir -p "$eval_dir"
mv "$work/$data/wordsim353.tsv" "$work/$data/simlex999.txt" "$work/$data/questions-words.txt" "$eval_dir/"
rm -rf "$work"
