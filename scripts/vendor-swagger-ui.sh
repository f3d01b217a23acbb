#!/bin/sh
# Refresh the Swagger UI files /docs serves (offline: no CDN) from the npm registry.
# Usage: scripts/vendor-swagger-ui.sh [VERSION]   (needs npm; the files are committed)
set -eu
version="${1:-5.35.0}"
dest="$(dirname "$0")/../src/dialgate/entrypoints/swagger_ui"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "swagger-ui-dist@$version" >/dev/null && tar xzf swagger-ui-dist-*.tgz)
cp "$work/package/swagger-ui-bundle.js" "$work/package/swagger-ui.css" \
   "$work/package/swagger-ui-bundle.js.LICENSE.txt" "$dest/"
cp "$work/package/LICENSE" "$dest/LICENSE.txt"
cp "$work/package/NOTICE" "$dest/NOTICE.txt"
echo "swagger-ui-dist $version" > "$dest/VERSION.txt"
