#!/bin/sh
# Prints N generated reports to PDF with LibreOffice, for the ignored PDF round-trip test:
#   crates/synth/tests/make_pdf_corpus.sh /tmp/pdf-corpus 100
#   NIANBAO_PDF_DIR=/tmp/pdf-corpus cargo test -p nianbao-synth --test formats -- --ignored
# Needs: apt-get install --no-install-recommends libreoffice-writer-nogui fonts-noto-cjk
set -eu
out=$1
count=${2:-100}
seed=${3:-31}
root=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$root"
cargo build -q -p nianbao-cli
bin="${CARGO_TARGET_DIR:-$root/target}/debug/nianbao"
mkdir -p "$out"
"$bin" synth --count "$count" --seed "$seed" --out "$out" --format text >/dev/null
"$bin" synth --count "$count" --seed "$seed" --out "$out/docx" --format docx >/dev/null
HOME="$out/.lo" soffice --headless --convert-to pdf --outdir "$out" "$out"/docx/*.docx >/dev/null 2>&1
rm -rf "$out/docx" "$out/.lo"
ls "$out"/*.pdf | wc -l
