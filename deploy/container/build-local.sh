#!/usr/bin/env bash
# Builds the gateway image with podman without pulling any base image: FROM scratch, holding a published gateway,
# this machine's .NET runtime, the Debian libraries they load, the CA bundle, and bash for the healthcheck. The result
# runs like the Dockerfile's image (same paths, volumes, user, healthcheck, entrypoint).
#
#   deploy/container/build-local.sh [PUBLISHED_DIR] [TAG]
#
# PUBLISHED_DIR: the output of `dotnet publish host -c Release -o DIR` (published here when omitted).
# TAG: the image name, gateway:local by default.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
published=${1:-}
tag=${2:-gateway:local}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs
app_uid=1654   # the user of the official .NET images ("app"), so both images own files alike

if [[ -z $published ]]; then
  published=$work/publish
  dotnet publish "$repo/host" -c Release -o "$published" --nologo -v q
fi
[[ -x $published/gateway && -d $published/plugins ]] || { echo "build-local.sh: $published is not a published gateway" >&2; exit 2; }

# The .NET runtime: the host (dotnet, hostfxr) and each shared framework gateway.runtimeconfig.json names, in the
# newest installed version of the same major (what the host itself would roll forward to).
dotnet_root=$(dirname "$(readlink -f "$(command -v dotnet)")")
mkdir -p "$rootfs/usr/share/dotnet/host/fxr" "$rootfs/usr/share/dotnet/shared"
cp "$dotnet_root/dotnet" "$rootfs/usr/share/dotnet/"
fxr=$(ls -d "$dotnet_root"/host/fxr/* | sort -V | tail -1)
cp -r "$fxr" "$rootfs/usr/share/dotnet/host/fxr/"
python3 - "$published/gateway.runtimeconfig.json" > "$work/frameworks" <<'PY'
import json, sys
options = json.load(open(sys.argv[1]))["runtimeOptions"]
frameworks = options.get("frameworks") or [options["framework"]]
for f in frameworks:
    print(f["name"], f["version"].split(".")[0])
PY
while read -r name major; do
  version=$(ls -d "$dotnet_root/shared/$name/$major".* | sort -V | tail -1)
  mkdir -p "$rootfs/usr/share/dotnet/shared/$name"
  cp -r "$version" "$rootfs/usr/share/dotnet/shared/$name/"
done < "$work/frameworks"

# The gateway, its default config (a volume), the plugin volume, the healthcheck.
mkdir -p "$rootfs/app" "$rootfs/etc/gateway" "$rootfs/var/lib/gateway/plugins" "$rootfs/tmp" "$rootfs/bin" "$rootfs/etc/ssl/certs"
cp -r "$published/." "$rootfs/app/"
find "$rootfs/app" -name '*.pdb' -delete
cp "$here/gateway.yaml" "$rootfs/etc/gateway/gateway.yaml"
cp -r "$here/rules" "$rootfs/etc/gateway/rules"
cp "$here/healthcheck.sh" "$rootfs/app/healthcheck.sh"
cp /bin/bash "$rootfs/bin/bash"

# Libraries: what the runtime, the gateway's native assets and bash link against, plus what .NET loads with dlopen
# (OpenSSL for TLS: DoT upstreams and listeners).
{
  find "$rootfs/usr/share/dotnet" "$rootfs/app" -name '*.so*' -type f
  echo "$rootfs/usr/share/dotnet/dotnet"
  echo "$rootfs/bin/bash"
} | grep -vE '/runtimes/(android|linux-musl|linux-arm|linux-x86|osx|win|freebsd)[^/]*/' \
  | while read -r binary; do
      # Only resolved dependencies ("libx.so.1 => /lib/.../libx.so.1 (0x...)") and the loader line count: ldd also
      # prints error text naming paths (a native asset built for another libc), which are not dependencies.
      ldd "$binary" 2>/dev/null | sed -nE 's@^\s*[^ ]+ => (/[^ ]+) \(0x[0-9a-f]+\)$@\1@p; s@^\s*(/[^ ]+) \(0x[0-9a-f]+\)$@\1@p' || true
    done > "$work/libs"
for soname in libssl.so.3 libcrypto.so.3; do
  ldconfig -p | awk -v n="$soname" '$1 == n && /x86-64|x86_64/ { print $NF; exit }' >> "$work/libs"
done
sort -u "$work/libs" | while read -r lib; do
  [[ -e $lib ]] || continue
  mkdir -p "$rootfs$(dirname "$lib")"
  cp -L "$lib" "$rootfs$lib"
done
# The dynamic loader may be reached through /lib64 or /lib depending on the binary.
for loader in /lib64/ld-linux-x86-64.so.2 /lib/x86_64-linux-gnu/ld-linux-x86-64.so.2; do
  [[ -e $loader ]] && { mkdir -p "$rootfs$(dirname "$loader")"; cp -L "$loader" "$rootfs$loader"; }
done

cp -L /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
printf 'root:x:0:0:root:/root:/usr/sbin/nologin\napp:x:%s:%s:app:/var/lib/gateway:/usr/sbin/nologin\n' "$app_uid" "$app_uid" > "$rootfs/etc/passwd"
printf 'root:x:0:\napp:x:%s:\n' "$app_uid" > "$rootfs/etc/group"
printf 'hosts: files dns\n' > "$rootfs/etc/nsswitch.conf"
chmod 1777 "$rootfs/tmp"
chown -R "$app_uid:$app_uid" "$rootfs/var/lib/gateway"

podman build --format docker --quiet -f "$here/Containerfile.local" -t "$tag" "$work" >/dev/null
echo "$tag"
