#!/bin/sh
# cockpit/install-xterm.sh SRC_DIR PAGE_DIR: meson's install script for the terminal tab (terminal.js).
# Copies xterm.js and its fit addon from SRC_DIR/node_modules (`npm ci` in cockpit/, exactly as
# package-lock.json says) into PAGE_DIR/xterm/ (relative to the prefix, or absolute), under DESTDIR. At
# install time, not at configure time, so that `npm ci` may come before or after `meson setup`. Without
# node_modules it installs nothing and says so: the page still works, and its terminal tab says "terminal
# unavailable: xterm.js not installed".
set -eu
src=$1/node_modules/@xterm
case $2 in
/*) dest=${DESTDIR:-}$2 ;;
*) dest=$MESON_INSTALL_DESTDIR_PREFIX/$2 ;;
esac
dest=$dest/xterm
files="xterm/lib/xterm.js xterm/css/xterm.css addon-fit/lib/addon-fit.js"
for f in $files; do
        if [ ! -f "$src/$f" ]; then
                echo "cockpit: no $src/$f (run \"npm ci\" in cockpit/): the page's terminal tab will say" \
                     "\"terminal unavailable: xterm.js not installed\"" >&2
                exit 0
        fi
done
mkdir -p "$dest"
for f in $files; do
        # without its "//# sourceMappingURL=" line: the map is not installed
        sed '/^\/\/# sourceMappingURL=/d' "$src/$f" > "$dest/${f##*/}.tmp"
        chmod 644 "$dest/${f##*/}.tmp"
        mv "$dest/${f##*/}.tmp" "$dest/${f##*/}"
done
# the licence of what we copied (MIT, which asks for its notice to go along)
install -m 644 "$src/xterm/LICENSE" "$dest/LICENSE"
version=$(sed -n 's/^  "version": "\(.*\)",$/\1/p' "$src/xterm/package.json")
echo "cockpit: installed xterm.js $version into $dest"
