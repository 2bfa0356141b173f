#!/usr/bin/env python3
"""Import circles in src/, read from the source's own `use` items and paths.

    python3 scripts/module_circles.py [REPO]      # exit 1 and the names of each circle found

Checks two things, non-test code only: the top-level modules of src/ (a folder counts as
one) use each other without a circle; and inside every folder its files and sub-folders
use each other without a circle (a module's own mod.rs, which declares them, aside).
A use the reading misses (a macro, a path built another way) is not seen."""
import os, re, sys, collections
ROOT = sys.argv[1] if len(sys.argv) > 1 else '.'
SRC = os.path.join(ROOT, 'src')
files = {}
for d, _, fs in os.walk(SRC):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.relpath(os.path.join(d, f), ROOT)
            files[p] = open(os.path.join(d, f)).read()

def modpath(p):
    parts = p[len('src/'):-3].split('/')
    if parts[-1] in ('mod', 'lib', 'main'):
        parts = parts[:-1]
    return parts

mod2file = {tuple(modpath(p)): p for p in files if not p.endswith('main.rs')}

def strip(text):
    # remove comments and string contents
    out = []; i = 0; n = len(text)
    while i < n:
        c = text[i]
        if text.startswith('//', i):
            j = text.find('\n', i); i = n if j < 0 else j; continue
        if text.startswith('/*', i):
            j = text.find('*/', i); i = n if j < 0 else j + 2; continue
        if c == 'r' and re.match(r'r#*"', text[i:i+10]) and (i == 0 or not (text[i-1].isalnum() or text[i-1]=='_')):
            m = re.match(r'r(#*)"', text[i:]); hashes = m.group(1)
            end = text.find('"' + hashes, i + len(m.group(0)))
            out.append('""'); i = n if end < 0 else end + 1 + len(hashes); continue
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == '\\' else 1
            out.append('""'); i = j + 1; continue
        if c == "'" :
            m = re.match(r"'(\\.|[^\\'])'", text[i:i+4]) or re.match(r"'\\u\{[0-9a-fA-F]+\}'", text[i:i+12]) or re.match(r"'\\x[0-9a-fA-F]{2}'", text[i:i+6])
            if m:
                out.append("' '"); i += len(m.group(0)); continue
        out.append(c); i += 1
    return ''.join(out)

def expand(tree):
    tree = tree.strip()
    # split top-level prefix::{...}
    m = re.match(r'^(.*?)\{(.*)\}$', tree, re.S)
    if not m:
        return [tree]
    prefix, inner = m.group(1), m.group(2)
    items = []; depth = 0; cur = ''
    for ch in inner:
        if ch == '{': depth += 1
        if ch == '}': depth -= 1
        if ch == ',' and depth == 0:
            items.append(cur); cur = ''
        else:
            cur += ch
    items.append(cur)
    res = []
    for it in items:
        it = it.strip()
        if not it: continue
        for e in expand(it):
            res.append(prefix + e)
    return res

def resolve(segs):
    for k in range(len(segs), -1, -1):
        if tuple(segs[:k]) in mod2file:
            return mod2file[tuple(segs[:k])], segs[k:]
    return None, segs

edges = collections.defaultdict(lambda: collections.defaultdict(set))
testedges = collections.defaultdict(lambda: collections.defaultdict(set))
for p, raw in files.items():
    text = strip(raw)
    me = modpath(p)
    test_at = text.find('#[cfg(test)]')
    def absolute(path, pos):
        segs = [s.strip() for s in path.split('::')]
        segs = [re.sub(r'\s+as\s+\w+$', '', s) for s in segs]
        base = list(me)
        if pos >= test_at >= 0:
            base = base + ['tests']
        if segs[0] == 'crate':
            return segs[1:]
        if segs[0] in ('self',):
            return base + segs[1:]
        if segs[0] == 'super':
            b = list(base)
            while segs and segs[0] == 'super':
                b = b[:-1]; segs = segs[1:]
            return b + segs
        # relative to current module (child module) in 2018+: only if child exists
        if tuple(base + segs[:1]) in mod2file:
            return base + segs
        return None
    found = []
    for m in re.finditer(r'\buse\s+([^;]+);', text):
        for e in expand(m.group(1)):
            found.append((e, m.start()))
    for m in re.finditer(r'(?<![\w:])(\w+(?:\s*::\s*\w+)+)', text):
        first = m.group(1).split('::')[0].strip()
        if first not in ('crate', 'super', 'self') and tuple(me + [first]) not in mod2file:
            continue
        # skip those within use statements (already handled) - harmless duplicates
        found.append((m.group(1), m.start()))
    for path, pos in found:
        path = path.replace(' ', '').replace('\n', '')
        segs = absolute(path, pos)
        if segs is None: continue
        segs = [s for s in segs if s != '*']
        if not segs: continue
        target, rest = resolve(segs)
        if target is None or target == p: continue
        name = rest[0] if rest else '(module)'
        if test_at >= 0 and pos >= test_at:
            testedges[p][target].add(name)
        else:
            edges[p][target].add(name)

def room(p):
    parts = p[len('src/'):].split('/')
    if len(parts) > 1: return 'src/' + parts[0] + '/'
    name = parts[0][:-3]
    if os.path.isdir(os.path.join(SRC, name)): return 'src/' + name + '/'
    return p

def sccs(nodes, adj):
    index = {}; low = {}; st = []; on = set(); res = []; c = [0]
    sys.setrecursionlimit(10000)
    def go(v):
        index[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
        for w in adj.get(v, ()):
            if w not in index:
                go(w); low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = st.pop(); on.discard(w); comp.append(w)
                if w == v: break
            if len(comp) > 1: res.append(sorted(comp))
    for v in nodes:
        if v not in index: go(v)
    return res

include_tests = '--tests' in sys.argv
def merged():
    allE = collections.defaultdict(lambda: collections.defaultdict(set))
    for src in (edges, testedges) if include_tests else (edges,):
        for a, ts in src.items():
            for b, ns in ts.items():
                allE[a][b] |= ns
    return allE
E = merged()
fadj = {a: set(ts) for a, ts in E.items()}
fc = sccs(sorted(files), fadj)
radj = collections.defaultdict(set); rnames = collections.defaultdict(lambda: collections.defaultdict(set))
for a, ts in E.items():
    for b, ns in ts.items():
        ra, rb = room(a), room(b)
        if ra != rb:
            radj[ra].add(rb); rnames[(ra, rb)][a + ' -> ' + b] |= ns
rooms = sorted(set(room(p) for p in files))
rc = sccs(rooms, radj)
print(f'{len(files)} files, {sum(len(v) for v in fadj.values())} imports between them, {len(rooms)} top-level modules')
print('circles between top-level modules:', len(rc))
for c in rc:
    print('  ', ' <-> '.join(c))
    cs = set(c)
    for a in c:
        for b in sorted(radj[a]):
            if b in cs:
                for k, ns in sorted(rnames[(a, b)].items()):
                    print('      ', k, sorted(ns))

# Per-folder layering: for every folder, its entries (files; subfolders and X.rs+X/ as one unit) form a DAG.
def unit_in(folder, p):
    """The entry of `folder` that file p belongs to (None if p is not under folder)."""
    if not p.startswith(folder): return None
    rest = p[len(folder):].split('/')
    if len(rest) == 1:
        name = rest[0][:-3]
        if os.path.isdir(os.path.join(ROOT, folder, name)): return folder + name + '/'
        return p
    return folder + rest[0] + '/'
folders = sorted(set(os.path.dirname(p) + '/' for p in files))
# Known and accepted: the URL parser applies libpq's environment (db/postgres/libpq.rs)
# and the PostgreSQL backend uses the URL type; between files there is no circle.
KNOWN = {('src/db/url.rs', 'src/db/postgres/libpq.rs')}
for a, b in sorted(KNOWN):
    print('known and left out:', a, '->', b)
total_back = 0
for folder in folders:
    units = collections.defaultdict(set); names = collections.defaultdict(set)
    for a, ts in E.items():
        ua = unit_in(folder, a)
        # The module that declares the folder's files uses them and they use it: aside.
        if ua is None or ua in (folder + 'mod.rs', folder + 'lib.rs', folder + 'main.rs'): continue
        for b, ns in ts.items():
            ub = unit_in(folder, b)
            if (a, b) in KNOWN: continue
            if ub is None or ub == ua or ub in (folder + 'mod.rs', folder + 'lib.rs'): continue
            units[ua].add(ub); names[(ua, ub)].add(a + ' -> ' + b + ' ' + ','.join(sorted(ns)))
    nodes = sorted(set(units) | set(x for v in units.values() for x in v))
    cs = sccs(nodes, units)
    if cs:
        print('circles inside', folder, len(cs))
        for c in cs:
            cset = set(c)
            for a in c:
                for b in sorted(units[a]):
                    if b in cset:
                        for n in sorted(names[(a, b)]): print('      ', n)
        total_back += len(cs)
print('circles inside folders:', total_back)
sys.exit(1 if rc or total_back else 0)
