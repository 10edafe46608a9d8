"""Compare the metrics of two SQLite result databases cell by cell, matched by the cells' labels.

    python benchmarks/compat/compare.py BEFORE.db AFTER.db [METRIC,METRIC,...]

Prints every value that differs and the counts. ``attack.shadow_train_auc`` (what the
membership attack reported about itself before recsec's judges) is compared as
``attack.shadow_auc`` (what the judge computes now).
"""
import json, sqlite3, sys
RENAME = {"attack.shadow_train_auc": "attack.shadow_auc"}
def load(path):
    con = sqlite3.connect(path)
    out = {}
    for ds, rec, att, dfn, seed, m, st in con.execute("select dataset, recommender, attack, defense, seed, metrics, status from recsec_cells"):
        m = json.loads(m) if m else {}
        out[(ds, rec, att, dfn, seed)] = ({RENAME.get(k, k): v for k, v in m.items()}, st)
    return out
a, b = load(sys.argv[1]), load(sys.argv[2])
names = sys.argv[3].split(",") if len(sys.argv) > 3 else None
same = diff = 0
for key in sorted(a, key=str):
    if key not in b:
        print("missing after:", key); continue
    ma, sa = a[key]; mb, sb = b[key]
    if sa != sb: print("status", key, sa, sb)
    for n in sorted(ma):
        if names and n not in names: continue
        if n not in mb: continue
        va, vb = ma[n], mb[n]
        if va == vb or (va is None and vb is None): same += 1
        else:
            diff += 1; print(f"{key[2][:40]:40} {key[3][:22]:22} s{key[4]} {n:28} {va} -> {vb}")
print(f"equal: {same}, different: {diff}")
