#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Fails when a source folder includes a header from a folder it may not use.

Every folder below is one static library; LAYERS says which folders each
may include from (its own always). Includes are by bare name ("stun.h"),
so each header's name must be unique in the tree; a header outside every
folder listed here (system headers come in <...>) is an error too.

    scripts/check-layers.py [SOURCE_ROOT]

docs/architecture.md has the same map in prose.
"""
import os
import re
import sys

# folder: folders it may include from, bottom up
LAYERS = {
    "dataplane/wire": [],
    "dataplane": ["dataplane/wire"],
    "dataplane/gw": ["dataplane", "dataplane/wire"],
    "dataplane/udp": ["dataplane/gw", "dataplane", "dataplane/wire"],
    "dataplane/dpdk": ["dataplane/gw", "dataplane", "dataplane/wire"],
    "control/base": ["dataplane/wire"],
    # the config knows the dataplane only by what it hands it
    "control/config": ["control/base", "dataplane/dp_conf.h",
                       "dataplane/wire"],
    "control/net": ["control/base", "dataplane/wire"],
    "control/sdp": [],
    "control/turn": ["control/config", "control/base", "dataplane",
                     "dataplane/wire"],
    "control/gateway": ["control/config", "control/sdp", "control/base",
                        "dataplane/gw", "dataplane", "dataplane/wire"],
    "control/loop": ["control/gateway", "control/turn", "control/net",
                     "control/config", "control/base", "dataplane/gw",
                     "dataplane", "dataplane/wire"],
    "control/ops": ["control/loop", "control/gateway", "control/turn",
                    "control/net", "control/config", "control/base",
                    "dataplane/gw", "dataplane", "dataplane/wire"],
    # signaling never touches an mbuf: no dataplane beyond wire formats
    "signaling": ["control/gateway", "control/net", "control/sdp",
                  "control/config",
                  "control/base", "dataplane/dp_conf.h", "dataplane/wire"],
    "control/sottoctl": ["control/config", "control/base",
                         "dataplane/dp_conf.h", "dataplane/wire"],
    # the composition root: sottod's main wires everything together
    "control/daemon": ["signaling", "control/ops", "control/loop",
                       "control/gateway", "control/turn", "control/net",
                       "control/config", "control/base", "dataplane/udp",
                       "dataplane/dpdk", "dataplane/gw", "dataplane",
                       "dataplane/wire"],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..")
    headers = {}   # name -> [folder]
    sources = []   # (folder, path)
    for folder in LAYERS:
        d = os.path.join(root, folder)
        for name in sorted(os.listdir(d)):
            p = os.path.join(d, name)
            if not os.path.isfile(p) or not name.endswith((".c", ".h")):
                continue
            sources.append((folder, p))
            if name.endswith(".h"):
                headers.setdefault(name, []).append(folder)
    bad = 0
    for top in ("dataplane", "control", "signaling"):
        for d, _, files in os.walk(os.path.join(root, top)):
            folder = os.path.relpath(d, root)
            if folder not in LAYERS and \
                    any(f.endswith((".c", ".h")) for f in files):
                print("check-layers: %s holds C files but is in no layer"
                      % folder, file=sys.stderr)
                bad += 1
    for name, where in sorted(headers.items()):
        if len(where) > 1:
            print("check-layers: %s is in %s: header names must be unique"
                  % (name, " and ".join(where)), file=sys.stderr)
            bad += 1
    for folder, path in sources:
        rel = os.path.relpath(path, root)
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                name = os.path.basename(m.group(1))
                where = headers.get(name)
                if where is None:
                    # generated next to its users (web_assets.h is tracked)
                    print("check-layers: %s:%d: \"%s\" is in no layer"
                          % (rel, n, name), file=sys.stderr)
                    bad += 1
                    continue
                to = where[0]
                allowed = LAYERS[folder]
                if to == folder or to in allowed or \
                        "%s/%s" % (to, name) in allowed:
                    continue
                print("check-layers: %s:%d: %s may not include %s/%s "
                      "(it may use: %s)" % (rel, n, folder, to, name,
                                            ", ".join(allowed) or "nothing"),
                      file=sys.stderr)
                bad += 1
    if bad:
        return 1
    print("check-layers: %d files in %d folders include only downwards"
          % (len(sources), len(LAYERS)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
