#!/usr/bin/env bash
# Vendors uPlot (MIT, https://github.com/leeoniya/uPlot) from the npm registry into the console page's assets
# (host/Dashboard/wwwroot/vendor/), so the page needs no CDN and the build no network. Run it to move to another
# version; the tarball is checked against the registry's sha512 integrity before anything is copied.
set -euo pipefail
version=${1:-1.6.32}
cd "$(dirname "$0")/.."
dest=host/Dashboard/wwwroot/vendor
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
integrity=$(npm view "uplot@$version" dist.integrity)
(cd "$work" && npm pack "uplot@$version" --silent >/dev/null)
actual="sha512-$(openssl dgst -sha512 -binary "$work/uplot-$version.tgz" | base64 -w0)"
[[ "$actual" == "$integrity" ]] || { echo "vendor-uplot: integrity mismatch ($actual != $integrity)" >&2; exit 1; }
tar -xzf "$work/uplot-$version.tgz" -C "$work"
cp "$work/package/dist/uPlot.iife.min.js" "$work/package/dist/uPlot.min.css" "$dest/"
cp "$work/package/LICENSE" "$dest/uPlot.LICENSE.txt"
echo "uplot $version ($integrity)" > "$dest/VERSION.txt"
echo "vendored uPlot $version into $dest"
