#!/usr/bin/env python3
"""Check the driftwatch samples against the resource catalog (stdlib only, Python >= 3.11).

1. every JSON file parses; the bad/ fixtures are bad in the intended way;
2. >= 80 managed resource instances, every catalog terraform_type present;
3. every live item's resourceId is some state instance's id value, except the planted
   unmanaged bucket and the AWS-managed items the catalog ignores;
4. a small *reference* comparison that reads catalog.toml and applies its rows with simple
   normalisers; the findings it derives must be exactly the planted a-f (and, for samples/sensitive,
   exactly the two planted changes). This is an oracle for the sample data, not the engine: it
   proves that nothing but the planted differences survives normalisation.

Exit status 0 when everything holds.
"""

import json
import os
import re
import sys
import tomllib
import urllib.parse

SAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO = os.path.dirname(SAMPLES)
CATALOG = os.path.join(REPO, "crates", "core", "catalog", "catalog.toml")

EXPECTED = {
    ("encryption.regression",
     'module.phi_storage["clinical-notes"].module.bucket.aws_s3_bucket_server_side_encryption_configuration.this'),
    ("drift.changed", "aws_security_group.app"),
    ("drift.missing", "aws_ebs_volume.pacs_cache[2]"),
    ("encryption.regression", 'module.phi_storage["imaging"].aws_kms_key.this'),
    ("drift.changed", "aws_db_instance.ehr_primary"),
    ("drift.unmanaged", "AWS::S3::Bucket/stmarys-ehr-export-tmp-20261118"),
}
EXPECTED_SENSITIVE = {
    ("drift.changed", "aws_db_instance.legacy_billing"),
    ("drift.changed", "aws_lambda_function.billing_sync"),
}
SECRETS = ["S3cr3t-EHR-db-pa55word!", "Aur0ra-Cluster-Secret#2026", "Sup3r-Secret-Hunter2-XYZ",
           "Different-Hunter3-ABC"]

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


# --------------------------------------------------------------------------- paths

TOKEN = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def get_path(obj, path):
    cur = obj
    for m in TOKEN.finditer(path):
        if isinstance(cur, str):
            s = cur.strip()
            if s[:1] in ("{", "["):
                try:
                    cur = json.loads(s)
                except ValueError:
                    return None
        if m.group(1) is not None:
            if not isinstance(cur, dict):
                return None
            cur = cur.get(m.group(1))
        else:
            i = int(m.group(2))
            if not isinstance(cur, list) or i >= len(cur):
                return None
            cur = cur[i]
        if cur is None:
            return None
    return cur


# --------------------------------------------------------------------------- normalisers

def n_string(v):
    return v if isinstance(v, str) else json.dumps(v)


def n_bool(v):
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        s = v.strip().lower()
        if s in ("true", "enabled", "yes", "on"):
            return True
        if s in ("false", "disabled", "no", "off", ""):
            return False
    if isinstance(v, (int, float)):
        return v != 0
    raise ValueError(f"not a bool: {v!r}")


def n_number(v):
    x = float(v)
    return int(x) if x.is_integer() else x


def n_tags(v):
    if isinstance(v, list):
        d = {}
        for e in v:
            k = e.get("key", e.get("Key", e.get("tagName")))
            d[k] = e.get("value", e.get("Value", e.get("tagValue")))
        v = d
    return {k: str(val) for k, val in (v or {}).items() if not k.startswith("aws:")}


def _policy_obj(v):
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("%"):
            s = urllib.parse.unquote(s)
        if not s:
            return None
        return json.loads(s)
    return v


def _as_list(x):
    return x if isinstance(x, list) else [x]


def n_policy(v):
    d = _policy_obj(v)
    if d is None:
        return None
    d = json.loads(json.dumps(d))
    stmts = _as_list(d.get("Statement", []))
    out = []
    for s in stmts:
        s = dict(s)
        for k in ("Action", "NotAction", "Resource", "NotResource"):
            if k in s:
                s[k] = _as_list(s[k])
        for k in ("Principal", "NotPrincipal"):
            if isinstance(s.get(k), dict):
                s[k] = {pk: _as_list(pv) for pk, pv in s[k].items()}
        if "Condition" in s:
            s["Condition"] = {op: {ck: _as_list(cv) for ck, cv in body.items()}
                              for op, body in s["Condition"].items()}
        out.append(s)
    d["Statement"] = out
    return json.dumps(d, sort_keys=True)


def n_secure_transport(v):
    d = _policy_obj(v)
    if d is None:
        return False
    for s in _as_list(d.get("Statement", [])):
        if s.get("Effect") != "Deny":
            continue
        vals = (s.get("Condition", {}).get("Bool", {}) or {}).get("aws:SecureTransport")
        if vals is not None and any(str(x).lower() == "false" for x in _as_list(vals)):
            return True
    return False


def n_kms(v):
    s = str(v)
    m = re.match(r"^arn:aws[\w-]*:kms:[^:]+:\d+:key/(.+)$", s)
    return m.group(1) if m else s


def _atom(proto, fp, tp, kind, src, desc):
    proto = str(proto).lower()
    if proto in ("-1", "all"):
        proto, fp, tp = "-1", None, None
    else:
        fp, tp = int(fp), int(tp)
    return (proto, fp, tp, kind, src, desc or "")


def n_tf_sg_rules(v):
    out = set()
    for b in v or []:
        for c in b.get("cidr_blocks") or []:
            out.add(_atom(b["protocol"], b["from_port"], b["to_port"], "ipv4", c, b.get("description")))
        for c in b.get("ipv6_cidr_blocks") or []:
            out.add(_atom(b["protocol"], b["from_port"], b["to_port"], "ipv6", c, b.get("description")))
        for c in b.get("prefix_list_ids") or []:
            out.add(_atom(b["protocol"], b["from_port"], b["to_port"], "pl", c, b.get("description")))
        for g in b.get("security_groups") or []:
            out.add(_atom(b["protocol"], b["from_port"], b["to_port"], "sg", g, b.get("description")))
        if b.get("self"):
            out.add(_atom(b["protocol"], b["from_port"], b["to_port"], "self", "self", b.get("description")))
    return out


def n_live_ip_permissions(v, self_id=None):
    out = set()
    for p in v or []:
        args = (p.get("ipProtocol"), p.get("fromPort"), p.get("toPort"))
        v4 = p.get("ipv4Ranges")
        if v4 is None:
            v4 = [{"cidrIp": c} for c in p.get("ipRanges") or []]
        for r in v4:
            out.add(_atom(*args, "ipv4", r["cidrIp"], r.get("description")))
        for r in p.get("ipv6Ranges") or []:
            out.add(_atom(*args, "ipv6", r["cidrIpv6"], r.get("description")))
        for r in p.get("prefixListIds") or []:
            out.add(_atom(*args, "pl", r["prefixListId"], r.get("description")))
        for r in p.get("userIdGroupPairs") or []:
            kind, src = ("self", "self") if r["groupId"] == self_id else ("sg", r["groupId"])
            out.add(_atom(*args, kind, src, r.get("description")))
    return out


def n_tf_sg_rule_resource(a):
    args = (a["protocol"], a["from_port"], a["to_port"])
    out = set()
    for c in a.get("cidr_blocks") or []:
        out.add(_atom(*args, "ipv4", c, a.get("description")))
    for c in a.get("ipv6_cidr_blocks") or []:
        out.add(_atom(*args, "ipv6", c, a.get("description")))
    for c in a.get("prefix_list_ids") or []:
        out.add(_atom(*args, "pl", c, a.get("description")))
    if a.get("source_security_group_id"):
        out.add(_atom(*args, "sg", a["source_security_group_id"], a.get("description")))
    if a.get("self"):
        out.add(_atom(*args, "self", "self", a.get("description")))
    return out


def n_tf_vpc_sg_rule(a):
    args = (a["ip_protocol"], a.get("from_port"), a.get("to_port"))
    for kind, key in (("ipv4", "cidr_ipv4"), ("ipv6", "cidr_ipv6"), ("pl", "prefix_list_id"),
                      ("sg", "referenced_security_group_id")):
        if a.get(key):
            return {_atom(*args, kind, a[key], a.get("description"))}
    return set()


def n_env(v):
    return {k: str(x) for k, x in (v or {}).items()}


NORMALISE = {
    "string": n_string, "lower": lambda v: n_string(v).lower(), "bool": n_bool,
    "number": n_number, "tags": n_tags, "set": lambda v: sorted(map(json.dumps, v or [])),
    "policy_json": n_policy, "secure_transport": n_secure_transport, "kms_key": n_kms,
    "tf_sg_rules": n_tf_sg_rules, "live_ip_permissions": n_live_ip_permissions,
    "env_vars": n_env,
}


def normalise(name, value, item=None):
    if name == "live_ip_permissions" and item is not None:
        return n_live_ip_permissions(value, item.get("resourceId"))
    return NORMALISE[name](value)


# --------------------------------------------------------------------------- states

def render_key(k):
    return f"[{k}]" if isinstance(k, int) else f"[{json.dumps(k)}]"


def load_instances(paths):
    rows = []
    for p in paths:
        doc = json.load(open(p))
        for r in doc["resources"]:
            for inst in r["instances"]:
                addr = (r["module"] + "." if r.get("module") else "") \
                    + ("data." if r["mode"] == "data" else "") + f"{r['type']}.{r['name']}" \
                    + (render_key(inst["index_key"]) if "index_key" in inst else "")
                rows.append({"file": os.path.relpath(p, SAMPLES), "mode": r["mode"],
                             "type": r["type"], "address": addr, "inst": inst,
                             "attrs": inst.get("attributes")})
    return rows


# --------------------------------------------------------------------------- reference diff

def reference_diff(catalog, rows, items):
    by_type = {}
    for row in catalog["resource"]:
        by_type[row["terraform_type"]] = row
    primary_cfg_types = {r["config_type"] for r in catalog["resource"] if r["role"] == "primary"}
    live_index = {(i["resourceType"], i["resourceId"]): i for i in items}
    findings = {}
    managed_keys = set()

    def add(rule, address, path, desired, actual):
        findings.setdefault((rule, address), []).append((path, desired, actual))

    current = [r for r in rows if r["mode"] == "managed" and "deposed" not in r["inst"]
               and r["type"] in by_type]

    # contributor members, keyed by (config type, id, attr)
    contributions = {}
    for r in current:
        row = by_type[r["type"]]
        if row["role"] != "contributor":
            continue
        for c in row["contributes"]:
            if c.get("when_attr") and str(r["attrs"].get(c["when_attr"])) != c["when_equals"]:
                continue
            members = {"tf_sg_rule_resource": n_tf_sg_rule_resource,
                       "tf_vpc_sg_rule": n_tf_vpc_sg_rule}[c["normalize"]](r["attrs"])
            key = (row["config_type"], r["attrs"][row["id_attr"]], c["to"])
            contributions.setdefault(key, set()).update(members)

    for r in current:
        row = by_type[r["type"]]
        if row["role"] == "contributor":
            continue
        rid = r["attrs"].get(row["id_attr"])
        item = live_index.get((row["config_type"], rid))
        if row["role"] == "primary":
            managed_keys.add((row["config_type"], rid))
        if item is None:
            if row["role"] == "primary":
                add("drift.missing", r["address"], None, None, None)
            continue
        for attr in row.get("attr", []):
            if not attr["live"]:
                continue
            tf_raw = get_path(r["attrs"], attr["tf"])
            live_raw = None
            for cand in attr["live"]:
                live_raw = get_path(item, cand)
                if live_raw is not None:
                    break
            has_default = "default" in attr
            if tf_raw is None and not has_default:
                continue
            if live_raw is None and not has_default:
                continue
            tf_n = normalise(attr["normalize"], tf_raw if tf_raw is not None else attr["default"])
            live_norm = attr.get("live_normalize", attr["normalize"])
            live_n = normalise(live_norm, live_raw if live_raw is not None else attr["default"], item)
            if attr["normalize"] == "tf_sg_rules":
                tf_n = set(tf_n) | contributions.get((row["config_type"], rid, attr["tf"]), set())
            if tf_n == live_n:
                continue
            rule = "drift.changed"
            enc = attr.get("encryption")
            if enc and enc["kind"] == "ordered":
                order = [normalise(attr["normalize"], o) for o in enc["order"]]
                if tf_n in order and live_n in order and order.index(live_n) < order.index(tf_n):
                    rule = "encryption.regression"
            elif enc and enc["kind"] == "key":
                if tf_n != "":
                    rule = "encryption.regression"
            add(rule, r["address"], attr["tf"], tf_n, live_n)

    for item in items:
        ct = item["resourceType"]
        if ct not in primary_cfg_types or (ct, item["resourceId"]) in managed_keys:
            continue
        ignored = False
        for row in catalog["resource"]:
            if row["config_type"] != ct or row["role"] != "primary":
                continue
            for ig in row.get("ignore_unmanaged", []):
                val = get_path(item, ig["path"])
                if val is None:
                    continue
                if "equals" in ig and val == ig["equals"]:
                    ignored = True
                if "prefix" in ig and str(val).startswith(ig["prefix"]):
                    ignored = True
        if not ignored:
            add("drift.unmanaged", f"{ct}/{item['resourceId']}", None, None, None)
    return findings


# --------------------------------------------------------------------------- checks

def main():
    catalog = tomllib.load(open(CATALOG, "rb"))
    cat_types = [r["terraform_type"] for r in catalog["resource"]]

    # 1. parse everything
    for root, _, files in os.walk(SAMPLES):
        for f in files:
            if not (f.endswith(".json") or f.endswith(".tfstate")):
                continue
            p = os.path.join(root, f)
            rel = os.path.relpath(p, SAMPLES)
            text = open(p, encoding="utf-8").read()
            if rel.startswith("bad" + os.sep):
                continue
            try:
                json.loads(text)
            except ValueError as e:
                fail(f"{rel}: {e}")

    bad = os.path.join(SAMPLES, "bad")
    expect_bad = {
        "truncated.tfstate": "", "malformed.tfstate": "line 5",
    }
    for name, needle in expect_bad.items():
        try:
            json.loads(open(os.path.join(bad, name)).read())
            fail(f"bad/{name} parses")
        except ValueError as e:
            if needle not in str(e):
                fail(f"bad/{name}: unexpected error {e}")
    if os.path.getsize(os.path.join(bad, "empty.tfstate")) != 0:
        fail("bad/empty.tfstate is not empty")
    if json.load(open(os.path.join(bad, "v3.tfstate")))["version"] != 3:
        fail("bad/v3.tfstate is not version 3")
    flat = json.load(open(os.path.join(bad, "flat.tfstate")))
    if "attributes_flat" not in flat["resources"][0]["instances"][0]:
        fail("bad/flat.tfstate has no attributes_flat")

    # 2. the estate
    state_paths = sorted(os.path.join(SAMPLES, "states", f)
                         for f in os.listdir(os.path.join(SAMPLES, "states")))
    rows = load_instances(state_paths)
    managed = [r for r in rows if r["mode"] == "managed" and "deposed" not in r["inst"]]
    catalogued = [r for r in managed if r["type"] in cat_types]
    print("\nstate files:")
    for p in state_paths:
        rel = os.path.relpath(p, SAMPLES)
        mine = [r for r in rows if r["file"] == rel]
        m = [r for r in mine if r["mode"] == "managed" and "deposed" not in r["inst"]]
        print(f"  {rel:26} managed instances {len(m):3} (catalogued "
              f"{sum(r['type'] in cat_types for r in m):3}), data {sum(r['mode'] == 'data' for r in mine)}, "
              f"deposed {sum('deposed' in r['inst'] for r in mine)}, "
              f"tainted {sum(r['inst'].get('status') == 'tainted' for r in mine)}")
    print(f"  total managed instances: {len(managed)} ({len(catalogued)} of catalogued types)")
    if len(catalogued) < 80:
        fail(f"only {len(catalogued)} managed instances of catalogued types")
    missing_types = sorted(set(cat_types) - {r["type"] for r in managed})
    if missing_types:
        fail(f"catalog types absent from states: {missing_types}")
    for s in state_paths:
        doc = json.load(open(s))
        if list(doc) != ["version", "terraform_version", "serial", "lineage", "outputs",
                         "resources", "check_results"]:
            fail(f"{s}: top-level keys {list(doc)}")

    live = json.load(open(os.path.join(SAMPLES, "live", "config-snapshot.json")))
    items = live["configurationItems"]
    print(f"\nlive items: {len(items)}")
    counts = {}
    for i in items:
        counts[i["resourceType"]] = counts.get(i["resourceType"], 0) + 1
    for t in sorted(counts):
        print(f"  {t:45} {counts[t]}")

    # 3. ids
    by_type = {r["terraform_type"]: r for r in catalog["resource"]}
    id_values = set()
    for r in managed:
        row = by_type.get(r["type"])
        if row:
            id_values.add(r["attrs"].get(row["id_attr"]))
        id_values.add(r["attrs"].get("id"))
        id_values.add(r["attrs"].get("arn"))
    allowed_unmatched = {"stmarys-ehr-export-tmp-20261118"}
    for i in items:
        if i["resourceId"] in id_values:
            continue
        conf = i["configuration"]
        aws_managed = (conf.get("keyManager") == "AWS" or conf.get("groupName") == "default"
                       or str(conf.get("path", "")).startswith(("/aws-service-role/", "/aws-reserved/")))
        if not aws_managed and i["resourceId"] not in allowed_unmatched:
            fail(f"live item {i['resourceType']} {i['resourceId']} matches no state id")
    ids = [(i["resourceType"], i["resourceId"]) for i in items]
    if len(ids) != len(set(ids)):
        fail("duplicate live items")

    # secrets: only where the brief puts them
    for root, _, files in os.walk(SAMPLES):
        for f in files:
            p = os.path.join(root, f)
            rel = os.path.relpath(p, SAMPLES)
            if rel.startswith("tools") or rel == "README.md":
                continue
            text = open(p, encoding="utf-8").read()
            for s in SECRETS:
                if s in text and not (rel.endswith(".tfstate") or rel == os.path.join("sensitive", "live.json")):
                    fail(f"secret appears in {rel}")

    # 4. reference comparison
    def report(title, findings, expected):
        print(f"\n{title}:")
        for (rule, addr), changes in sorted(findings.items()):
            print(f"  {rule:22} {addr}")
            for path, desired, actual in changes:
                if path:
                    if path in ("password", "environment[0].variables", "master_password"):
                        desired = actual = "<redacted>"
                    print(f"      {path}: {str(desired)[:90]} -> {str(actual)[:90]}")
        got = set(findings)
        if got != expected:
            for x in sorted(got - expected):
                fail(f"{title}: unexpected finding {x}")
            for x in sorted(expected - got):
                fail(f"{title}: missing finding {x}")

    report("reference findings (samples/states vs samples/live)",
           reference_diff(catalog, rows, items), EXPECTED)

    srows = load_instances([os.path.join(SAMPLES, "sensitive", "secret.tfstate")])
    sitems = json.load(open(os.path.join(SAMPLES, "sensitive", "live.json")))["configurationItems"]
    report("reference findings (samples/sensitive)", reference_diff(catalog, srows, sitems),
           EXPECTED_SENSITIVE)

    print("\nOK" if not failures else f"\n{len(failures)} problem(s)")
    return 0 if not failures else 1


if __name__ == "__main__":
    sys.exit(main())
