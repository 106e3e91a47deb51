#!/usr/bin/python3
"""check-catalog.py EVENTS_C CATALOG [DOC]: every MESSAGE_ID the daemon writes (src/daemon/events.c) has
one entry in the journal catalog, with a Subject, and the catalog explains no ID the daemon does not
write. Each ID is 32 lower-case hex digits and used once. DOC (docs/systemd.md) lists the same IDs."""
import re
import sys

events_c, catalog = sys.argv[1], sys.argv[2]
doc = sys.argv[3] if len(sys.argv) > 3 else None
with open(events_c) as f:
    ids = re.findall(r'MID\("([^"]*)"\)', f.read())
with open(catalog) as f:
    text = f.read()
entries = re.split(r'^-- ', text, flags=re.M)[1:]
bad = []
cat = {}
for e in entries:
    head, _, body = e.partition('\n')
    mid = head.strip()
    if mid in cat:
        bad.append('catalog: %s twice' % mid)
    cat[mid] = body
    if not re.search(r'^Subject: \S', body, flags=re.M):
        bad.append('catalog: %s has no Subject' % mid)
    if not body.strip().split('\n\n', 1)[1:]:
        bad.append('catalog: %s has no text below its header' % mid)
for mid in ids:
    if not re.fullmatch(r'[0-9a-f]{32}', mid):
        bad.append('events.c: %r is not an ID' % mid)
if len(set(ids)) != len(ids):
    bad.append('events.c: an ID is used twice')
for mid in set(ids) - set(cat):
    bad.append('%s (events.c) has no catalog entry' % mid)
for mid in set(cat) - set(ids):
    bad.append('%s (catalog) is not written by the daemon' % mid)
if doc:
    with open(doc) as f:
        listed = set(re.findall(r'`([0-9a-f]{32})`', f.read()))
    for mid in set(ids) ^ listed:
        bad.append('%s: %s %s' % (doc, mid, 'missing' if mid in ids else 'not written by the daemon'))
for b in bad:
    print('check-catalog: ' + b, file=sys.stderr)
if not bad:
    print('check-catalog: %d MESSAGE_IDs, each explained' % len(ids))
sys.exit(1 if bad else 0)
