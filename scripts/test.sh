#!/usr/bin/env bash
# The test command. Puts the test peers in place inside the project, then
# runs `cargo test` (arguments are passed on to it):
#   - the Python peers' packages (tests/peers/requirements.txt) in a
#     project-local virtual environment, .venv/, made here when missing;
#   - the Node peers' packages in tests/peers/node_modules (npm ci);
#   - chromium, for the tests that drive a headless browser (they fail
#     without it unless WSCOPE_SKIP_BROWSER=1), and tshark, for capture
#     tests to come: installed with apt-get when missing and run as root.
#   scripts/test.sh [CARGO TEST ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd -P)

say() { echo "scripts/test.sh: $*" >&2; }

can_apt() { [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; }

apt_updated=
apt_install() {
  if [[ -z $apt_updated ]]; then
    apt-get update -qq
    apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# --- the Python peers: .venv -------------------------------------------------
command -v python3 >/dev/null || {
  say "python3 not found: install Python 3 (Debian/Ubuntu: apt-get install python3 python3-venv)"
  exit 1
}
# A .venv without a working pip (half made, or its Python gone) is made anew.
if ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  # Debian ships venv's ensurepip in its own package, python3-venv.
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if can_apt; then
      say "python3 has no venv module: installing python3-venv"
      apt_install python3-venv
    else
      say "python3 has no venv module: install it (Debian/Ubuntu: sudo apt-get install python3-venv) and run again"
      exit 1
    fi
  fi
  rm -rf .venv
  python3 -m venv .venv
fi
# Installed again only when requirements.txt changed since the last install.
stamp=.venv/wscope-requirements.txt
if ! cmp -s tests/peers/requirements.txt "$stamp"; then
  .venv/bin/python -m pip install -q --disable-pip-version-check -r tests/peers/requirements.txt
  cp tests/peers/requirements.txt "$stamp"
fi

# --- the Node peers: tests/peers/node_modules --------------------------------
command -v npm >/dev/null || {
  say "npm not found: install Node.js and npm (Debian/Ubuntu: apt-get install nodejs npm)"
  exit 1
}
# npm ci starts from an empty node_modules, so the stamp goes with it.
stamp=tests/peers/node_modules/.wscope-package-lock.json
if ! cmp -s tests/peers/package-lock.json "$stamp"; then
  npm ci --prefix tests/peers --no-audit --no-fund --loglevel=error
  cp tests/peers/package-lock.json "$stamp"
fi

# --- chromium and tshark -------------------------------------------------------
missing=() needs=""
if ! command -v chromium >/dev/null; then
  missing+=(chromium) needs+="chromium for the headless-browser tests"
fi
if ! command -v tshark >/dev/null; then
  missing+=(tshark) needs+="${needs:+; }tshark for the capture tests"
fi
if ((${#missing[@]})); then
  if can_apt; then
    say "installing ${missing[*]}"
    # tshark would ask whether non-root users may capture; they may not.
    if command -v debconf-set-selections >/dev/null; then
      echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    fi
    apt_install "${missing[@]}" || say "could not install ${missing[*]}; going on without them"
  else
    say "not found: $needs (the browser tests fail without chromium; WSCOPE_SKIP_BROWSER=1 skips them)"
  fi
fi

export WSCOPE_TEST_PYTHON="$root/.venv/bin/python"
exec cargo test "$@"
