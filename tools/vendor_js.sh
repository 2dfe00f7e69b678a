#!/usr/bin/env bash
# Copy the self-hosted scripts the site needs from node_modules/ into _vendor/ (served as static
# files), so that a page opened from disk loads nothing from the network.
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf _vendor
mkdir -p _vendor/mathjax/output _vendor/mathjax/input/tex
M=node_modules/mathjax/es5
cp "$M/tex-mml-chtml.js" _vendor/mathjax/
cp -r "$M/output/chtml" _vendor/mathjax/output/
cp -r "$M/input/tex/extensions" _vendor/mathjax/input/tex/
cp -r "$M/a11y" "$M/ui" "$M/adaptors" _vendor/mathjax/
