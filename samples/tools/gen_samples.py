#!/usr/bin/env python3
"""Generate the driftwatch sample estate ("st-marys-ehr", prod).

Deterministic, stdlib only. Every identifier is derived from a hash of a fixed seed string,
every timestamp is fixed, so running this twice writes byte-identical files.

Writes (relative to samples/):
  states/network.tfstate  states/data.tfstate  states/app.tfstate
  live/config-snapshot.json
  sensitive/secret.tfstate  sensitive/live.json
  bad/truncated.tfstate  bad/malformed.tfstate  bad/v3.tfstate  bad/empty.tfstate  bad/flat.tfstate

then runs tools/check_samples.py, which re-derives the expected findings from the catalog.

The resource catalog (crates/core/catalog/catalog.toml) is the contract: live items are keyed on
the catalog's id_attr, and live values sit at the catalog's `live` paths.

Planted differences (see samples/README.md) are marked `PLANT (x)` below.
"""

import base64
import copy
import datetime as dt
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.parse

SAMPLES = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

ACCOUNT = "123456789012"
REGION = "us-east-1"
PROVIDER = 'provider["registry.terraform.io/hashicorp/aws"]'
TF_VERSION = "1.11.4"
DEFAULT_TAGS = {"Environment": "prod", "Owner": "platform-team", "CostCenter": "ehr-1042"}
PHI = {"data-classification": "phi"}
PRIVATE_NULL = "bnVsbA=="  # base64("null")

# The sensitive values the brief asks for. They exist only inside state `attributes` (as real
# Terraform writes them); the engine must never copy them out.
EHR_DB_PASSWORD = "S3cr3t-EHR-db-pa55word!"
AURORA_PASSWORD = "Aur0ra-Cluster-Secret#2026"
LEGACY_PASSWORD = "Sup3r-Secret-Hunter2-XYZ"
LEGACY_LIVE_ENV_PASSWORD = "Different-Hunter3-ABC"


# --------------------------------------------------------------------------- deterministic ids

def _digest(seed):
    return hashlib.sha256(seed.encode()).digest()


def hx(seed, n):
    return hashlib.sha256(seed.encode()).hexdigest()[:n]


def uuid_for(seed):
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[0:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) % 4]}{h[17:20]}-{h[20:32]}"


def b32(seed, n):
    """Upper-case [A-Z2-7] id, like IAM unique ids and RDS resource ids."""
    return base64.b32encode(_digest(seed) + _digest(seed + "+")).decode().rstrip("=")[:n]


def digits(seed, n):
    return str(int(hx(seed, 30), 16))[:n]


def b64sha(seed):
    return base64.b64encode(_digest(seed)).decode()


def past(seed, fmt="%Y-%m-%dT%H:%M:%SZ", start=dt.datetime(2024, 9, 2, 8, 0, 0), span_days=700):
    off = int(hx(seed, 8), 16) % (span_days * 86400)
    return (start + dt.timedelta(seconds=off)).strftime(fmt)


def epoch_ms(s):
    d = dt.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.timezone.utc)
    return int(d.timestamp() * 1000)


def config_addr(module):
    """Module instance path -> module config path (what `dependencies` holds)."""
    return re.sub(r'\[[^\]]*\]', '', module) if module else ""


def kms_arn(kid):
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{kid}"


def tagset(name, extra=None):
    own = {"Name": name}
    own.update(extra or {})
    merged = dict(DEFAULT_TAGS)
    merged.update(own)
    return own, merged


def tag_list(tags, k="key", v="value"):
    return [{k: key, v: val} for key, val in sorted(tags.items())]


def sort_keys(o):
    """Terraform writes object attributes sorted by name (cty object / map marshalling)."""
    if isinstance(o, dict):
        return {k: sort_keys(o[k]) for k in sorted(o)}
    if isinstance(o, list):
        return [sort_keys(x) for x in o]
    return o


def timeouts_private(create=None, update=None, delete=None, schema_version=None):
    t = {}
    if create:
        t["create"] = create
    if delete:
        t["delete"] = delete
    if update:
        t["update"] = update
    p = {"e2bfb730-ecaa-11e6-8f88-34363bc7c4c0": t}
    if schema_version is not None:
        p["schema_version"] = str(schema_version)
    return base64.b64encode(json.dumps(p, separators=(",", ":")).encode()).decode()


NS = 1_000_000_000  # timeouts are nanoseconds in the private blob

VPC_ID = "vpc-0" + hx("vpc:ehr-prod", 16)
PRIVATE_SUBNETS = ["subnet-0" + hx(f"subnet:private:{az}", 16) for az in ("a", "b", "c")]
PUBLIC_SUBNETS = ["subnet-0" + hx(f"subnet:public:{az}", 16) for az in ("a", "b", "c")]
AZS = ["us-east-1a", "us-east-1b", "us-east-1c"]
CANONICAL_USER = hx("s3-canonical-user", 64)


# --------------------------------------------------------------------------- policy documents

AWS_STMT_ORDER = ["Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction", "Resource",
                  "NotResource", "Condition"]
DATASOURCE_STMT_ORDER = ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource",
                         "Principal", "NotPrincipal", "Condition"]


def _ordered_policy(doc, stmt_order, top=("Version", "Id", "Statement")):
    out = {}
    for k in top:
        if k in doc:
            out[k] = doc[k]
    for k in doc:
        if k not in out:
            out[k] = doc[k]
    stmts = out["Statement"]
    if isinstance(stmts, dict):
        stmts = [stmts]
    new = []
    for s in stmts:
        o = {k: s[k] for k in stmt_order if k in s}
        o.update({k: v for k, v in s.items() if k not in o})
        new.append(o)
    out["Statement"] = new
    return out


def policy_jsonencode(doc):
    """What `jsonencode({...})` stores: keys sorted, compact."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"))


def policy_datasource(doc):
    """What data.aws_iam_policy_document renders in `json`: fixed key order, 2-space indent."""
    return json.dumps(_ordered_policy(doc, DATASOURCE_STMT_ORDER), indent=2)


def policy_live(doc, *, stmt_object=False, action_list=False, pretty=False):
    """An equivalent rendering as AWS hands it back: AWS key order, optionally single Statement
    as an object, single Action as a one-element array, pretty-printed with 4 spaces."""
    d = _ordered_policy(copy.deepcopy(doc), AWS_STMT_ORDER)
    if action_list:
        for s in d["Statement"]:
            if isinstance(s.get("Action"), str):
                s["Action"] = [s["Action"]]
    if stmt_object:
        assert len(d["Statement"]) == 1
        d["Statement"] = d["Statement"][0]
    if pretty:
        return json.dumps(d, indent=4)
    return json.dumps(d, separators=(",", ":"))


def tls_only_statement(bucket):
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def trust_policy(service, extra_condition=None):
    s = {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}
    if extra_condition:
        s["Condition"] = extra_condition
    return {"Version": "2012-10-17", "Statement": [s]}


# --------------------------------------------------------------------------- state model

NOKEY = object()


class State:
    def __init__(self, name, serial, outputs=None):
        self.name = name
        self.serial = serial
        self.lineage = uuid_for("lineage:" + name)
        self.outputs = outputs or {}
        self.resources = {}

    def add(self, rtype, name, attrs, *, module=None, mode="managed", index_key=NOKEY,
            schema_version=0, sensitive=None, deps=None, private=PRIVATE_NULL, status=None,
            deposed=None, cbd=False):
        key = (module or "", mode, rtype, name)
        res = self.resources.get(key)
        if res is None:
            res = {}
            if module:
                res["module"] = module
            res.update({"mode": mode, "type": rtype, "name": name, "provider": PROVIDER,
                        "instances": []})
            self.resources[key] = res
        inst = {}
        if index_key is not NOKEY:
            inst["index_key"] = index_key
        if status:
            inst["status"] = status
        if deposed:
            inst["deposed"] = deposed
        inst["schema_version"] = schema_version
        inst["attributes"] = sort_keys(attrs)
        inst["sensitive_attributes"] = sensitive or []
        if mode == "managed":
            inst["private"] = private
            if deps:
                inst["dependencies"] = sorted(set(deps))
            if cbd:
                inst["create_before_destroy"] = True
        res["instances"].append(inst)
        return inst

    def to_json(self):
        resources = []
        for key in sorted(self.resources):
            res = self.resources[key]

            def ikey(i):
                k = i.get("index_key")
                kind = 0 if k is None else (1 if isinstance(k, int) else 2)
                return (kind, k if k is not None else 0, i.get("deposed", ""))

            res["instances"].sort(key=ikey)
            resources.append(res)
        doc = {
            "version": 4,
            "terraform_version": TF_VERSION,
            "serial": self.serial,
            "lineage": self.lineage,
            "outputs": self.outputs,
            "resources": resources,
            "check_results": None,
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------- live model

class Live:
    def __init__(self):
        self.items = []

    def add(self, rtype, rid, name, arn, tags, configuration, supplementary=None, *,
            az="Regional", region=REGION, created=None):
        item = {
            "relatedEvents": [],
            "relationships": [],
            "configuration": configuration,
            "supplementaryConfiguration": supplementary or {},
            "tags": tags if tags is not None else {},
            "configurationItemVersion": "1.3",
            "configurationItemCaptureTime": None,  # filled in by finish()
            "configurationStateId": None,
            "awsAccountId": ACCOUNT,
            "configurationItemStatus": "OK",
            "resourceType": rtype,
            "resourceId": rid,
            "resourceName": name,
            "ARN": arn,
            "awsRegion": region,
            "availabilityZone": az,
            "configurationStateMd5Hash": "",
            "resourceCreationTime": created or past("created:" + rtype + rid, "%Y-%m-%dT%H:%M:%S.000Z"),
        }
        self.items.append(item)
        return item

    def finish(self, base="2026-11-20T06:00:00Z"):
        self.items.sort(key=lambda i: (i["resourceType"], i["resourceId"]))
        t0 = dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%SZ")
        for n, item in enumerate(self.items):
            ms = int(hx("ms:" + item["resourceId"], 4), 16) % 1000
            t = t0 + dt.timedelta(seconds=17 * n, milliseconds=ms)
            item["configurationItemCaptureTime"] = t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms:03d}Z"
            item["configurationStateId"] = str(int(t.replace(tzinfo=dt.timezone.utc).timestamp() * 1000))

    def to_json(self, snapshot_seed):
        self.finish()
        doc = {
            "fileVersion": "1.0",
            "configSnapshotId": uuid_for("snapshot:" + snapshot_seed),
            "configurationItems": self.items,
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def as_json_string(obj):
    """AWS Config often delivers supplementaryConfiguration values as JSON strings."""
    return json.dumps(obj, separators=(",", ":"))


# --------------------------------------------------------------------------- builders

def build_kms_key(st, live, name, *, alias, description, module=None, index_key=NOKEY,
                  tags_extra=None, service_principals=(), live_rotation=True,
                  rotation_in_supplementary=False, deps=None):
    kid = uuid_for("kms:" + alias)
    arn = kms_arn(kid)
    statements = [{
        "Sid": "EnableRootAccountAdministration",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
        "Action": "kms:*",
        "Resource": "*",
    }]
    for svc in service_principals:
        statements.append({
            "Sid": "AllowUseBy" + svc.split(".")[0].replace("-", "").title(),
            "Effect": "Allow",
            "Principal": {"Service": svc},
            "Action": ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*",
                       "kms:DescribeKey"],
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        })
    policy = {"Version": "2012-10-17", "Id": "key-policy-" + alias.replace("/", "-"),
              "Statement": statements}
    own, all_tags = tagset(alias.replace("alias/", ""), tags_extra)
    attrs = {
        "arn": arn,
        "bypass_policy_lockout_safety_check": False,
        "custom_key_store_id": "",
        "customer_master_key_spec": "SYMMETRIC_DEFAULT",
        "deletion_window_in_days": 30,
        "description": description,
        "enable_key_rotation": True,
        "id": kid,
        "is_enabled": True,
        "key_id": kid,
        "key_usage": "ENCRYPT_DECRYPT",
        "multi_region": False,
        "policy": policy_jsonencode(policy),
        "rotation_period_in_days": 365,
        "tags": own,
        "tags_all": all_tags,
        "timeouts": None,
        "xks_key_id": "",
    }
    st.add("aws_kms_key", name, attrs, module=module, index_key=index_key, deps=deps)
    st.add("aws_kms_alias", name, {
        "arn": f"arn:aws:kms:{REGION}:{ACCOUNT}:{alias}",
        "id": alias,
        "name": alias,
        "name_prefix": "",
        "target_key_arn": arn,
        "target_key_id": kid,
    }, module=module, index_key=index_key,
        deps=[(config_addr(module) + "." if module else "") + "aws_kms_key." + name])

    created = past("kms-created:" + alias)
    conf = {
        "aWSAccountId": ACCOUNT,
        "keyId": kid,
        "arn": arn,
        "creationDate": created,
        "enabled": True,
        "description": description,
        "keyUsage": "ENCRYPT_DECRYPT",
        "keyState": "Enabled",
        "origin": "AWS_KMS",
        "keyManager": "CUSTOMER",
        "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "keySpec": "SYMMETRIC_DEFAULT",
        "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "multiRegion": False,
    }
    supp = {}
    if rotation_in_supplementary:
        # older recorder shape: supplementaryConfiguration.KeyRotationStatus, as a JSON string
        supp["KeyRotationStatus"] = "true" if live_rotation else "false"
    else:
        conf["keyRotationStatus"] = live_rotation
    live.add("AWS::KMS::Key", kid, kid, arn, dict(all_tags), conf, supp,
             created=created.replace("Z", ".000Z"))
    return kid, arn


def build_aws_managed_key(live, alias, service):
    kid = uuid_for("aws-managed-kms:" + alias)
    arn = kms_arn(kid)
    live.add("AWS::KMS::Key", kid, kid, arn, {}, {
        "aWSAccountId": ACCOUNT, "keyId": kid, "arn": arn,
        "creationDate": past("aws-kms:" + alias, start=dt.datetime(2021, 3, 1)),
        "enabled": True,
        "description": f"Default key that protects my {service} data when no other key is defined",
        "keyUsage": "ENCRYPT_DECRYPT", "keyState": "Enabled", "origin": "AWS_KMS",
        "keyManager": "AWS", "customerMasterKeySpec": "SYMMETRIC_DEFAULT",
        "keySpec": "SYMMETRIC_DEFAULT", "encryptionAlgorithms": ["SYMMETRIC_DEFAULT"],
        "multiRegion": False, "keyRotationStatus": True,
    }, {}, created=past("aws-kms:" + alias, "%Y-%m-%dT%H:%M:%S.000Z", start=dt.datetime(2021, 3, 1)))
    return kid


def s3_supp_common():
    return {
        "AccessControlList": as_json_string({
            "grantSet": None,
            "grantList": [{"grantee": {"id": CANONICAL_USER, "displayName": None},
                           "permission": "FullControl"}],
            "owner": {"displayName": None, "id": CANONICAL_USER},
            "isRequesterCharged": False,
        }),
        "BucketAccelerateConfiguration": {"status": None},
        "BucketNotificationConfiguration": {"configurations": {}},
        "IsRequesterPaysEnabled": False,
    }


def build_bucket(st, live, *, rname, bucket, module=None, tags_extra=None, kms_key_arn=None,
                 versioning=True, policy_doc=None, policy_render="jsonencode", live_policy=None,
                 logging=None, supp_as_strings=False, object_lock=None, deps=None,
                 live_sse_override=None, datasource_statements=None):
    """aws_s3_bucket + split facet resources, and the one AWS::S3::Bucket item they all map to."""
    arn = f"arn:aws:s3:::{bucket}"
    own, all_tags = tagset(bucket, tags_extra)
    mod_prefix = config_addr(module)  # config address for dependencies

    def dep(t):
        return ((mod_prefix + ".") if module else "") + f"{t}.{rname}"

    if kms_key_arn:
        sse_tf = {"kms_master_key_id": kms_key_arn, "sse_algorithm": "aws:kms"}
        bucket_key = True
    else:
        sse_tf = {"kms_master_key_id": "", "sse_algorithm": "AES256"}
        bucket_key = False

    if policy_render == "datasource":
        policy_tf = policy_datasource(policy_doc)
    else:
        policy_tf = policy_jsonencode(policy_doc)

    attrs = {
        "acceleration_status": "",
        "acl": None,
        "arn": arn,
        "bucket": bucket,
        "bucket_domain_name": f"{bucket}.s3.amazonaws.com",
        "bucket_prefix": "",
        "bucket_regional_domain_name": f"{bucket}.s3.{REGION}.amazonaws.com",
        "cors_rule": [],
        "force_destroy": False,
        "grant": [{"id": CANONICAL_USER, "permissions": ["FULL_CONTROL"], "type": "CanonicalUser",
                   "uri": ""}],
        "hosted_zone_id": "Z3AQBSTGFYJSTF",
        "id": bucket,
        "lifecycle_rule": [],
        "logging": ([{"target_bucket": logging[0], "target_prefix": logging[1]}] if logging else []),
        "object_lock_configuration": ([{"object_lock_enabled": "Enabled", "rule": []}]
                                      if object_lock else []),
        "object_lock_enabled": bool(object_lock),
        "policy": policy_tf,
        "region": REGION,
        "replication_configuration": [],
        "request_payer": "BucketOwner",
        "server_side_encryption_configuration": [{"rule": [{
            "apply_server_side_encryption_by_default": [dict(sse_tf)],
            "bucket_key_enabled": bucket_key}]}],
        "tags": own,
        "tags_all": all_tags,
        "timeouts": None,
        "versioning": [{"enabled": bool(versioning), "mfa_delete": False}],
        "website": [],
        "website_domain": None,
        "website_endpoint": None,
    }
    st.add("aws_s3_bucket", rname, attrs, module=module, deps=deps)

    st.add("aws_s3_bucket_server_side_encryption_configuration", rname, {
        "bucket": bucket,
        "expected_bucket_owner": "",
        "id": bucket,
        "rule": [{"apply_server_side_encryption_by_default": [dict(sse_tf)],
                  "bucket_key_enabled": bucket_key}],
    }, module=module, deps=[dep("aws_s3_bucket")] + ([d for d in (deps or []) if "kms" in d]))

    if versioning:
        st.add("aws_s3_bucket_versioning", rname, {
            "bucket": bucket,
            "expected_bucket_owner": "",
            "id": bucket,
            "mfa": None,
            "versioning_configuration": [{"mfa_delete": "", "status": "Enabled"}],
        }, module=module, deps=[dep("aws_s3_bucket")])

    st.add("aws_s3_bucket_public_access_block", rname, {
        "block_public_acls": True,
        "block_public_policy": True,
        "bucket": bucket,
        "id": bucket,
        "ignore_public_acls": True,
        "restrict_public_buckets": True,
    }, module=module, deps=[dep("aws_s3_bucket")])

    st.add("aws_s3_bucket_policy", rname, {"bucket": bucket, "id": bucket, "policy": policy_tf},
           module=module,
           deps=[dep("aws_s3_bucket"), dep("aws_s3_bucket_public_access_block")]
           + ([((mod_prefix + ".") if module else "") + "data.aws_iam_policy_document." + rname]
              if policy_render == "datasource" else []))

    if datasource_statements is not None:
        st.add("aws_iam_policy_document", rname, {
            "id": digits("pdoc:" + bucket, 10),
            "json": policy_tf,
            "minified_json": json.dumps(json.loads(policy_tf), separators=(",", ":")),
            "override_json": None,
            "override_policy_documents": None,
            "policy_id": None,
            "source_json": None,
            "source_policy_documents": None,
            "statement": datasource_statements,
            "version": "2012-10-17",
        }, module=module, mode="data")

    if logging:
        st.add("aws_s3_bucket_logging", rname, {
            "bucket": bucket,
            "expected_bucket_owner": "",
            "id": bucket,
            "target_bucket": logging[0],
            "target_grant": [],
            "target_object_key_format": [],
            "target_prefix": logging[1],
        }, module=module, deps=[dep("aws_s3_bucket")])

    # ---- live
    if kms_key_arn:
        sse_live = {"rules": [{"applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "aws:kms", "kmsMasterKeyID": kms_key_arn}, "bucketKeyEnabled": True}]}
    else:
        sse_live = {"rules": [{"applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "AES256", "kmsMasterKeyID": None}, "bucketKeyEnabled": False}]}
    if live_sse_override is not None:
        sse_live = live_sse_override

    supp = s3_supp_common()
    supp["BucketLoggingConfiguration"] = (
        {"destinationBucketName": logging[0], "logFilePrefix": logging[1]} if logging
        else {"destinationBucketName": None, "logFilePrefix": None})
    supp["BucketPolicy"] = {"policyText": live_policy if live_policy is not None
                            else policy_live(policy_doc)}
    supp["BucketVersioningConfiguration"] = {
        "status": "Enabled" if versioning else "Off", "isMfaDeleteEnabled": None}
    supp["PublicAccessBlockConfiguration"] = {
        "blockPublicAcls": True, "ignorePublicAcls": True,
        "blockPublicPolicy": True, "restrictPublicBuckets": True}
    supp["ServerSideEncryptionConfiguration"] = sse_live
    if object_lock:
        supp["ObjectLockConfiguration"] = {"objectLockEnabled": "Enabled", "rule": {
            "defaultRetention": {"mode": object_lock[0], "days": None, "years": object_lock[1]}}}
    if supp_as_strings:
        for k in ("BucketLoggingConfiguration", "BucketPolicy", "BucketVersioningConfiguration",
                  "PublicAccessBlockConfiguration", "ServerSideEncryptionConfiguration",
                  "ObjectLockConfiguration"):
            if k in supp:
                supp[k] = as_json_string(supp[k])
    created = past("s3-created:" + bucket, "%Y-%m-%dT%H:%M:%S.000Z")
    live.add("AWS::S3::Bucket", bucket, bucket, arn, dict(all_tags), {
        "name": bucket,
        "owner": {"displayName": None, "id": CANONICAL_USER},
        "creationDate": created,
    }, supp, created=created)
    return arn


# ---- security groups ------------------------------------------------------------------------

def sg_id(name):
    return "sg-0" + hx("sg:" + name, 16)


def sg_block(proto, from_port, to_port, *, cidrs=(), cidrs6=(), sgs=(), desc=""):
    return {
        "cidr_blocks": list(cidrs),
        "description": desc,
        "from_port": from_port,
        "ipv6_cidr_blocks": list(cidrs6),
        "prefix_list_ids": [],
        "protocol": proto,
        "security_groups": list(sgs),
        "self": False,
        "to_port": to_port,
    }


def block_atoms(b):
    """TF rule block -> atomic (proto, from, to, kind, source, description) tuples."""
    out = []
    for c in b.get("cidr_blocks") or []:
        out.append((b["protocol"], b["from_port"], b["to_port"], "ipv4", c, b["description"]))
    for c in b.get("ipv6_cidr_blocks") or []:
        out.append((b["protocol"], b["from_port"], b["to_port"], "ipv6", c, b["description"]))
    for g in b.get("security_groups") or []:
        out.append((b["protocol"], b["from_port"], b["to_port"], "sg", g, b["description"]))
    return out


def live_ip_permissions(atoms):
    """Group atoms into EC2 IpPermission objects the way DescribeSecurityGroups does, then emit
    them (and the ranges inside them) in the reverse order of the state, as AWS does not keep
    Terraform's order."""
    groups = {}
    order = []
    for proto, fp, tp, kind, src, desc in atoms:
        k = (proto, fp, tp)
        if k not in groups:
            groups[k] = {"ipv4": [], "ipv6": [], "sg": []}
            order.append(k)
        groups[k][kind].append((src, desc))
    perms = []
    for k in reversed(order):
        proto, fp, tp = k
        g = groups[k]
        p = {"ipProtocol": proto}
        if proto != "-1":
            p["fromPort"] = fp
            p["toPort"] = tp
        v4 = []
        for src, desc in reversed(g["ipv4"]):
            r = {"cidrIp": src}
            if desc:
                r["description"] = desc
            v4.append(r)
        v6 = []
        for src, desc in reversed(g["ipv6"]):
            r = {"cidrIpv6": src}
            if desc:
                r["description"] = desc
            v6.append(r)
        pairs = []
        for src, desc in reversed(g["sg"]):
            r = {"groupId": src, "userId": ACCOUNT}
            if desc:
                r["description"] = desc
            pairs.append(r)
        p["ipv6Ranges"] = v6
        p["prefixListIds"] = []
        p["userIdGroupPairs"] = pairs
        p["ipv4Ranges"] = v4
        p["ipRanges"] = [r["cidrIp"] for r in v4]
        perms.append(p)
    return perms


def build_security_group(st, live, rname, *, group_name, description, ingress, egress,
                         extra_ingress_atoms=(), extra_egress_atoms=(), live_only_ingress=(),
                         tags_extra=None):
    gid = sg_id(rname)
    own, all_tags = tagset(group_name, tags_extra)
    st.add("aws_security_group", rname, {
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{gid}",
        "description": description,
        "egress": egress,
        "id": gid,
        "ingress": ingress,
        "name": group_name,
        "name_prefix": "",
        "owner_id": ACCOUNT,
        "revoke_rules_on_delete": False,
        "tags": own,
        "tags_all": all_tags,
        "timeouts": None,
        "vpc_id": VPC_ID,
    }, schema_version=1,
        private=timeouts_private(create=600 * NS, delete=900 * NS, schema_version=1))
    in_atoms = [a for b in ingress for a in block_atoms(b)] + list(extra_ingress_atoms) \
        + list(live_only_ingress)
    eg_atoms = [a for b in egress for a in block_atoms(b)] + list(extra_egress_atoms)
    live.add("AWS::EC2::SecurityGroup", gid, group_name,
             f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{gid}", dict(all_tags), {
                 "description": description,
                 "groupName": group_name,
                 "ipPermissions": live_ip_permissions(in_atoms),
                 "ownerId": ACCOUNT,
                 "groupId": gid,
                 "ipPermissionsEgress": live_ip_permissions(eg_atoms),
                 "tags": tag_list(all_tags),
                 "vpcId": VPC_ID,
             })
    return gid


# ---- IAM ------------------------------------------------------------------------------------

def role_unique_id(name):
    return "AROA" + b32("role:" + name, 17)


def build_role(st, live, rname, *, name, trust, description, managed, index_key=NOKEY,
               boundary="", name_prefix="", live_trust_render=None, tags_extra=None,
               live_max_session=True, deposed=None, cbd=False, add_live=True, created=None):
    uid = role_unique_id(name)
    arn = f"arn:aws:iam::{ACCOUNT}:role/{name}"
    own, all_tags = tagset(name, tags_extra)
    created = created or past("role-created:" + name)
    st.add("aws_iam_role", rname, {
        "arn": arn,
        "assume_role_policy": policy_jsonencode(trust),
        "create_date": created,
        "description": description,
        "force_detach_policies": False,
        "id": name,
        "inline_policy": [],
        "managed_policy_arns": sorted(managed),
        "max_session_duration": 3600,
        "name": name,
        "name_prefix": name_prefix,
        "path": "/",
        "permissions_boundary": boundary,
        "tags": own,
        "tags_all": all_tags,
        "unique_id": uid,
    }, index_key=index_key, deposed=deposed, cbd=cbd)
    if not add_live:
        return uid, arn
    doc = (live_trust_render or (lambda d: policy_live(d)))(trust)
    conf = {
        "path": "/",
        "roleName": name,
        "roleId": uid,
        "arn": arn,
        "createDate": created.replace("Z", ".000Z"),
        "assumeRolePolicyDocument": urllib.parse.quote(doc, safe=""),
        "instanceProfileList": [],
        "rolePolicyList": [],
        "attachedManagedPolicies": [{"policyName": m.rsplit("/", 1)[1], "policyArn": m}
                                    for m in managed],
        "permissionsBoundary": ({"permissionsBoundaryType": "Policy",
                                 "permissionsBoundaryArn": boundary} if boundary else None),
        "tags": tag_list(all_tags),
        "roleLastUsed": {"lastUsedDate": "2026-11-20T05:41:12.000Z", "region": REGION},
    }
    if live_max_session:
        conf["maxSessionDuration"] = 3600
    live.add("AWS::IAM::Role", uid, name, arn, dict(all_tags), conf, {},
             az="Not Applicable", region="global", created=created.replace("Z", ".000Z"))
    return uid, arn


def build_aws_reserved_role(live, name, path, service, managed):
    uid = role_unique_id(name)
    arn = f"arn:aws:iam::{ACCOUNT}:role{path}{name}"
    doc = policy_live(trust_policy(service) if service else {
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow",
            "Principal": {"Federated": f"arn:aws:iam::{ACCOUNT}:saml-provider/AWSSSO_{hx('sso', 16)}_DO_NOT_DELETE"},
            "Action": ["sts:AssumeRoleWithSAML", "sts:TagSession"],
            "Condition": {"StringEquals": {"SAML:aud": "https://signin.aws.amazon.com/saml"}}}]})
    created = past("reserved-role:" + name, "%Y-%m-%dT%H:%M:%S.000Z", start=dt.datetime(2022, 1, 10))
    live.add("AWS::IAM::Role", uid, name, arn, {}, {
        "path": path, "roleName": name, "roleId": uid, "arn": arn, "createDate": created,
        "assumeRolePolicyDocument": urllib.parse.quote(doc, safe=""),
        "instanceProfileList": [], "rolePolicyList": [],
        "attachedManagedPolicies": [{"policyName": m.rsplit("/", 1)[1], "policyArn": m}
                                    for m in managed],
        "permissionsBoundary": None, "tags": [],
        "roleLastUsed": {"lastUsedDate": "2026-11-19T22:03:51.000Z", "region": REGION},
    }, {}, az="Not Applicable", region="global", created=created)


# ---- CloudWatch Logs ----------------------------------------------------------------------

def build_log_group(st, live, rname, *, name, retention, kms_key, index_key=NOKEY,
                    tags_extra=None, deps=None):
    own, all_tags = tagset(name, tags_extra)
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    st.add("aws_cloudwatch_log_group", rname, {
        "arn": arn,
        "id": name,
        "kms_key_id": kms_key,
        "log_group_class": "STANDARD",
        "name": name,
        "name_prefix": "",
        "retention_in_days": retention,
        "skip_destroy": False,
        "tags": own,
        "tags_all": all_tags,
    }, index_key=index_key, deps=deps)
    conf = {
        "LogGroupName": name,
        "Arn": arn + ":*",
        "RetentionInDays": retention,
        "LogGroupClass": "STANDARD",
        "Tags": tag_list(all_tags, "Key", "Value"),
    }
    if kms_key:
        conf["KmsKeyId"] = kms_key
    live.add("AWS::Logs::LogGroup", name, name, arn + ":*", dict(all_tags), conf, {})
    return arn


# =========================================================================== the estate

def build_estate():
    live = Live()

    # ------------------------------------------------------------------ network.tfstate
    net = State("st-marys-ehr/prod/network", 47, outputs={
        "public_alb_dns_name": {"value": "ehr-public-alb-1739204811.us-east-1.elb.amazonaws.com",
                                "type": "string"},
        "vpc_id": {"value": VPC_ID, "type": "string"},
    })

    logs_kid, logs_key = build_kms_key(
        net, live, "logs", alias="alias/ehr-prod-logs",
        description="st-marys-ehr prod: CloudTrail, VPC flow logs and CloudWatch Logs",
        service_principals=("cloudtrail.amazonaws.com", f"logs.{REGION}.amazonaws.com"))

    # ---- security groups (ids are needed before the groups are written)
    g_alb, g_app, g_db = sg_id("alb"), sg_id("app"), sg_id("db")
    g_efs, g_lambda, g_hl7 = sg_id("efs"), sg_id("lambda"), sg_id("hl7_interface")

    build_security_group(
        net, live, "alb", group_name="ehr-prod-public-alb",
        description="Public ALB for the patient portal and FHIR API",
        ingress=[
            sg_block("tcp", 443, 443, cidrs=["0.0.0.0/0"], cidrs6=["::/0"], desc="HTTPS from internet"),
            sg_block("tcp", 80, 80, cidrs=["0.0.0.0/0"], cidrs6=["::/0"], desc="HTTP redirect to HTTPS"),
        ],
        egress=[sg_block("tcp", 8443, 8443, sgs=[g_app], desc="To application tier")])

    # PLANT (b): someone opened SSH to the world on the application tier in the console.
    build_security_group(
        net, live, "app", group_name="ehr-prod-app",
        description="EHR application tier (ECS tasks)",
        ingress=[
            sg_block("tcp", 8443, 8443, sgs=[g_alb], desc="From public ALB"),
            sg_block("tcp", 8443, 8443, cidrs=["10.40.0.0/16", "10.41.0.0/16"],
                     desc="From hospital campus networks"),
        ],
        egress=[sg_block("-1", 0, 0, cidrs=["0.0.0.0/0"])],
        live_only_ingress=[("tcp", 22, 22, "ipv4", "0.0.0.0/0", "temp vendor support")])

    build_security_group(
        net, live, "db", group_name="ehr-prod-db",
        description="PostgreSQL / Aurora for the EHR data tier",
        ingress=[], egress=[],
        extra_ingress_atoms=[
            ("tcp", 5432, 5432, "sg", g_app, "PostgreSQL from app tier"),
            ("tcp", 5432, 5432, "sg", g_lambda, "PostgreSQL from Lambda functions"),
            ("tcp", 5432, 5432, "ipv4", "10.250.0.0/16", "DBA access over admin VPN"),
            ("tcp", 5432, 5432, "ipv4", "10.60.0.0/16", "Replication from DR site"),
        ],
        extra_egress_atoms=[("tcp", 443, 443, "ipv4", "10.20.0.0/16", "HTTPS to VPC endpoints"),
                            ("tcp", 5432, 5432, "ipv4", "10.60.0.0/16", "Replication to DR site")],
        tags_extra=PHI)

    build_security_group(
        net, live, "efs", group_name="ehr-prod-efs",
        description="EFS mount targets for shared clinical documents",
        ingress=[sg_block("tcp", 2049, 2049, sgs=[g_app, g_lambda], desc="NFS from app and Lambda")],
        egress=[], tags_extra=PHI)

    build_security_group(
        net, live, "lambda", group_name="ehr-prod-lambda",
        description="VPC-attached Lambda functions",
        ingress=[],
        egress=[sg_block("-1", 0, 0, cidrs=["0.0.0.0/0"], desc="All outbound via NAT")])

    build_security_group(
        net, live, "hl7_interface", group_name="ehr-prod-hl7-interface",
        description="Internal ALB for HL7/FHIR partner interfaces",
        ingress=[sg_block("tcp", 8443, 8443,
                          cidrs=["172.16.40.0/24", "172.16.41.0/24", "192.168.77.0/24"],
                          desc="Partner labs and imaging centres over site-to-site VPN")],
        egress=[sg_block("tcp", 8443, 8443, sgs=[g_app], desc="To application tier")])

    # default security group: AWS-managed, never in state
    gdef = "sg-0" + hx("sg:default", 16)
    live.add("AWS::EC2::SecurityGroup", gdef, "default",
             f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/{gdef}", {}, {
                 "description": "default VPC security group", "groupName": "default",
                 "ipPermissions": [{"ipProtocol": "-1", "ipv6Ranges": [], "prefixListIds": [],
                                    "userIdGroupPairs": [{"groupId": gdef, "userId": ACCOUNT}],
                                    "ipv4Ranges": [], "ipRanges": []}],
                 "ownerId": ACCOUNT, "groupId": gdef,
                 "ipPermissionsEgress": [{"ipProtocol": "-1", "ipv6Ranges": [], "prefixListIds": [],
                                          "userIdGroupPairs": [],
                                          "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}],
                                          "ipRanges": ["0.0.0.0/0"]}],
                 "tags": [], "vpcId": VPC_ID})

    # ---- aws_security_group_rule contributors on the db group
    def sg_rule(rname, *, type_, port, source_sg=None, cidrs=None, desc):
        sgr = "sgr-0" + hx("sgr:" + rname, 16)
        net.add("aws_security_group_rule", rname, {
            "cidr_blocks": cidrs,
            "description": desc,
            "from_port": port,
            "id": "sgrule-" + digits("sgrule:" + rname, 10),
            "ipv6_cidr_blocks": None,
            "prefix_list_ids": [],
            "protocol": "tcp",
            "security_group_id": g_db,
            "security_group_rule_id": sgr,
            "self": False,
            "source_security_group_id": source_sg,
            "timeouts": None,
            "to_port": port,
            "type": type_,
        }, schema_version=2, deps=["aws_security_group.db"] + (
            ["aws_security_group.app"] if source_sg == g_app else []) + (
            ["aws_security_group.lambda"] if source_sg == g_lambda else []))

    sg_rule("db_from_app", type_="ingress", port=5432, source_sg=g_app, desc="PostgreSQL from app tier")
    sg_rule("db_from_lambda", type_="ingress", port=5432, source_sg=g_lambda,
            desc="PostgreSQL from Lambda functions")
    sg_rule("db_egress_endpoints", type_="egress", port=443, cidrs=["10.20.0.0/16"],
            desc="HTTPS to VPC endpoints")

    for key, cidr, desc in (("admin-vpn", "10.250.0.0/16", "DBA access over admin VPN"),
                            ("dr-site", "10.60.0.0/16", "Replication from DR site")):
        sgr = "sgr-0" + hx("sgr:vpc:" + key, 16)
        own, all_tags = tagset("ehr-prod-db-" + key)
        net.add("aws_vpc_security_group_ingress_rule", "db_postgres", {
            "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group-rule/{sgr}",
            "cidr_ipv4": cidr,
            "cidr_ipv6": None,
            "description": desc,
            "from_port": 5432,
            "id": sgr,
            "ip_protocol": "tcp",
            "prefix_list_id": None,
            "referenced_security_group_id": None,
            "security_group_id": g_db,
            "security_group_rule_id": sgr,
            "tags": own,
            "tags_all": all_tags,
            "to_port": 5432,
        }, index_key=key, deps=["aws_security_group.db"])

    sgr = "sgr-0" + hx("sgr:vpc:egress:dr-site", 16)
    own, all_tags = tagset("ehr-prod-db-egress-dr-site")
    net.add("aws_vpc_security_group_egress_rule", "db_replication_out", {
        "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group-rule/{sgr}",
        "cidr_ipv4": "10.60.0.0/16",
        "cidr_ipv6": None,
        "description": "Replication to DR site",
        "from_port": 5432,
        "id": sgr,
        "ip_protocol": "tcp",
        "prefix_list_id": None,
        "referenced_security_group_id": None,
        "security_group_id": g_db,
        "security_group_rule_id": sgr,
        "tags": own,
        "tags_all": all_tags,
        "to_port": 5432,
    }, deps=["aws_security_group.db"])

    # ---- load balancers (aws_lb is not in the catalog: state + live item, never compared)
    lbs = {}
    for rname, lbname, internal, sg in (("public", "ehr-public-alb", False, g_alb),
                                         ("hl7", "ehr-hl7-internal-alb", True, g_hl7)):
        lb_arn = (f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/{lbname}/"
                  + hx("alb:" + lbname, 16))
        dns = (("internal-" if internal else "") + f"{lbname}-{digits('albdns:' + lbname, 10)}"
               + f".{REGION}.elb.amazonaws.com")
        lbs[rname] = lb_arn
        own, all_tags = tagset(lbname)
        subnets = PRIVATE_SUBNETS if internal else PUBLIC_SUBNETS
        net.add("aws_lb", rname, {
            "access_logs": [{"bucket": "", "enabled": False, "prefix": ""}],
            "arn": lb_arn, "arn_suffix": lb_arn.split("loadbalancer/")[1],
            "client_keep_alive": 3600, "connection_logs": [], "customer_owned_ipv4_pool": "",
            "desync_mitigation_mode": "defensive", "dns_name": dns,
            "dns_record_client_routing_policy": None, "drop_invalid_header_fields": True,
            "enable_cross_zone_load_balancing": True, "enable_deletion_protection": True,
            "enable_http2": True, "enable_tls_version_and_cipher_suite_headers": False,
            "enable_waf_fail_open": False, "enable_xff_client_port": False,
            "enable_zonal_shift": False, "enforce_security_group_inbound_rules_on_private_link_traffic": "",
            "id": lb_arn, "idle_timeout": 60, "internal": internal, "ip_address_type": "ipv4",
            "load_balancer_type": "application", "name": lbname, "name_prefix": "",
            "preserve_host_header": False, "security_groups": [sg],
            "subnet_mapping": [{"allocation_id": "", "ipv6_address": "", "outpost_id": "",
                                "private_ipv4_address": "", "subnet_id": s} for s in subnets],
            "subnets": subnets, "tags": own, "tags_all": all_tags, "timeouts": None,
            "vpc_id": VPC_ID, "xff_header_processing_mode": "append",
            "zone_id": "Z35SXDOTRQ7X7K",
        }, deps=[f"aws_security_group.{'alb' if rname == 'public' else 'hl7_interface'}"])
        live.add("AWS::ElasticLoadBalancingV2::LoadBalancer", lb_arn, lbname, lb_arn, dict(all_tags), {
            "LoadBalancerArn": lb_arn, "DNSName": dns, "CanonicalHostedZoneId": "Z35SXDOTRQ7X7K",
            "LoadBalancerName": lbname, "Scheme": "internal" if internal else "internet-facing",
            "VpcId": VPC_ID, "State": {"Code": "active"}, "Type": "application",
            "AvailabilityZones": [{"ZoneName": az, "SubnetId": s} for az, s in zip(AZS, subnets)],
            "SecurityGroups": [sg], "IpAddressType": "ipv4"})

    cert = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/" + uuid_for("acm:portal.stmarys-ehr.org")
    cert_hl7 = f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/" + uuid_for("acm:hl7.stmarys-ehr.internal")

    def listener(rname, lb_key, lbname, port, protocol, ssl_policy, cert_arn, action):
        arn = (f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:listener/app/{lbname}/"
               f"{hx('alb:' + lbname, 16)}/{hx('listener:' + rname, 16)}")
        own, all_tags = tagset(f"{lbname}-{port}")
        tf_action = {"authenticate_cognito": [], "authenticate_oidc": [], "fixed_response": [],
                     "forward": [], "order": 1, "redirect": [], "target_group_arn": "",
                     "type": action["type"]}
        live_action = {"Type": action["type"], "Order": 1}
        if action["type"] == "forward":
            tf_action["target_group_arn"] = action["tg"]
            live_action["TargetGroupArn"] = action["tg"]
            live_action["ForwardConfig"] = {"TargetGroups": [{"TargetGroupArn": action["tg"], "Weight": 1}],
                                            "TargetGroupStickinessConfig": {"Enabled": False}}
        else:
            tf_action["redirect"] = [{"host": "#{host}", "path": "/#{path}", "port": "443",
                                      "protocol": "HTTPS", "query": "#{query}",
                                      "status_code": "HTTP_301"}]
            live_action["RedirectConfig"] = {"Protocol": "HTTPS", "Port": "443", "Host": "#{host}",
                                             "Path": "/#{path}", "Query": "#{query}",
                                             "StatusCode": "HTTP_301"}
        net.add("aws_lb_listener", rname, {
            "alpn_policy": None,
            "arn": arn,
            "certificate_arn": cert_arn,
            "default_action": [tf_action],
            "id": arn,
            "load_balancer_arn": lbs[lb_key],
            "mutual_authentication": [],
            "port": port,
            "protocol": protocol,
            "routing_http_request_x_amzn_mtls_clientcert_header_name": "",
            "routing_http_response_server_enabled": True,
            "ssl_policy": ssl_policy,
            "tags": own,
            "tags_all": all_tags,
            "tcp_idle_timeout_seconds": None,
            "timeouts": None,
        }, deps=[f"aws_lb.{lb_key}"], private=timeouts_private(create=300 * NS, update=300 * NS))
        conf = {"ListenerArn": arn, "LoadBalancerArn": lbs[lb_key], "Port": port,
                "Protocol": protocol, "DefaultActions": [live_action]}
        if ssl_policy:
            conf["SslPolicy"] = ssl_policy
            conf["Certificates"] = [{"CertificateArn": cert_arn}]
        live.add("AWS::ElasticLoadBalancingV2::Listener", arn, arn, arn, dict(all_tags), conf, {})

    tg_fhir = (f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/ehr-portal/"
               + hx("tg:portal", 16))
    tg_hl7 = (f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/ehr-hl7/"
              + hx("tg:hl7", 16))
    listener("https", "public", "ehr-public-alb", 443, "HTTPS",
             "ELBSecurityPolicy-TLS13-1-2-2021-06", cert, {"type": "forward", "tg": tg_fhir})
    listener("http_redirect", "public", "ehr-public-alb", 80, "HTTP", "", "",
             {"type": "redirect"})
    listener("hl7_https", "hl7", "ehr-hl7-internal-alb", 8443, "HTTPS",
             "ELBSecurityPolicy-TLS13-1-2-Res-2021-06", cert_hl7, {"type": "forward", "tg": tg_hl7})

    # ---- CloudTrail log bucket, trail, log groups, roles
    access_logs_bucket = f"stmarys-ehr-prod-s3-access-logs-{ACCOUNT}"
    trail_bucket = f"stmarys-ehr-prod-cloudtrail-{ACCOUNT}"
    trail_name = "st-marys-ehr-prod-trail"
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{trail_name}"
    trail_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "AWSCloudTrailAclCheck", "Effect": "Allow",
             "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
             "Resource": f"arn:aws:s3:::{trail_bucket}",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn}}},
            {"Sid": "AWSCloudTrailWrite", "Effect": "Allow",
             "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{trail_bucket}/AWSLogs/{ACCOUNT}/*",
             "Condition": {"StringEquals": {"aws:SourceArn": trail_arn,
                                            "s3:x-amz-acl": "bucket-owner-full-control"}}},
            tls_only_statement(trail_bucket),
        ],
    }
    build_bucket(net, live, rname="cloudtrail_logs", bucket=trail_bucket,
                 tags_extra={"data-classification": "audit"}, kms_key_arn=logs_key,
                 policy_doc=trail_policy, policy_render="jsonencode",
                 # g: live policy equivalent but pretty-printed, AWS key order, Action as arrays
                 live_policy=policy_live(trail_policy, action_list=True, pretty=True),
                 logging=(access_logs_bucket, f"{trail_bucket}/"), supp_as_strings=True,
                 object_lock=("COMPLIANCE", 6), deps=["aws_kms_key.logs"])

    ct_lg_arn = build_log_group(net, live, "cloudtrail", name="/aws/cloudtrail/st-marys-ehr-prod",
                                retention=2192, kms_key=logs_key, deps=["aws_kms_key.logs"])
    build_log_group(net, live, "vpc_flow_logs", name="/aws/vpc/st-marys-ehr-prod/flow-logs",
                    retention=365, kms_key=logs_key, deps=["aws_kms_key.logs"])
    build_log_group(net, live, "dns_query_logs",
                    name="/aws/route53resolver/st-marys-ehr-prod/query-logs",
                    retention=90, kms_key=logs_key, deps=["aws_kms_key.logs"])

    ct_trust = trust_policy("cloudtrail.amazonaws.com",
                            {"StringEquals": {"aws:SourceArn": trail_arn}})
    _, ct_role_arn = build_role(
        net, live, "cloudtrail_cloudwatch", name="ehr-prod-cloudtrail-to-cloudwatch",
        trust=ct_trust, description="Lets CloudTrail deliver to CloudWatch Logs",
        managed=[f"arn:aws:iam::{ACCOUNT}:policy/ehr-prod-cloudtrail-to-cloudwatch"],
        # g: URL-encoded, pretty-printed, single Statement object, Action as array
        live_trust_render=lambda d: policy_live(d, stmt_object=True, action_list=True, pretty=True),
        live_max_session=False)
    build_role(
        net, live, "vpc_flow_logs", name="ehr-prod-vpc-flow-logs",
        trust=trust_policy("vpc-flow-logs.amazonaws.com",
                           {"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
        description="VPC flow logs to CloudWatch Logs",
        managed=[f"arn:aws:iam::{ACCOUNT}:policy/ehr-prod-vpc-flow-logs"],
        live_max_session=False)

    phi_bucket_names = {k: f"stmarys-ehr-prod-phi-{k}-{ACCOUNT}"
                        for k in ("backups", "clinical-notes", "hl7-inbound", "imaging",
                                  "lab-results")}
    own, all_tags = tagset(trail_name)
    net.add("aws_cloudtrail", "main", {
        "advanced_event_selector": [],
        "arn": trail_arn,
        "cloud_watch_logs_group_arn": ct_lg_arn + ":*",
        "cloud_watch_logs_role_arn": ct_role_arn,
        "enable_log_file_validation": True,
        "enable_logging": True,
        "event_selector": [{
            "data_resource": [{"type": "AWS::S3::Object",
                               "values": sorted(f"arn:aws:s3:::{b}/" for b in phi_bucket_names.values())
                               + ["arn:aws:s3:::stmarys-ehr-tfstate-123456789012/"]}],
            "exclude_management_event_sources": [],
            "include_management_events": True,
            "read_write_type": "All",
        }],
        "home_region": REGION,
        "id": trail_arn,
        "include_global_service_events": True,
        "insight_selector": [],
        "is_multi_region_trail": True,
        "is_organization_trail": False,
        "kms_key_id": logs_key,
        "name": trail_name,
        "s3_bucket_name": trail_bucket,
        "s3_key_prefix": "",
        "sns_topic_arn": "",
        "sns_topic_name": "",
        "tags": own,
        "tags_all": all_tags,
    }, deps=["aws_cloudwatch_log_group.cloudtrail", "aws_iam_role.cloudtrail_cloudwatch",
             "aws_kms_key.logs", "aws_s3_bucket.cloudtrail_logs",
             "aws_s3_bucket_policy.cloudtrail_logs"])
    live.add("AWS::CloudTrail::Trail", trail_name, trail_name, trail_arn, dict(all_tags), {
        "name": trail_name,
        "s3BucketName": trail_bucket,
        "includeGlobalServiceEvents": True,
        "isMultiRegionTrail": True,
        "homeRegion": REGION,
        "trailARN": trail_arn,
        "logFileValidationEnabled": True,
        "cloudWatchLogsLogGroupArn": ct_lg_arn + ":*",
        "cloudWatchLogsRoleArn": ct_role_arn,
        "kmsKeyId": logs_key,
        "hasCustomEventSelectors": True,
        "hasInsightSelectors": False,
        "isOrganizationTrail": False,
    }, {})

    # ------------------------------------------------------------------ data.tfstate
    data = State("st-marys-ehr/prod/data", 112, outputs={
        "ehr_primary_endpoint": {"value": "ehr-primary.c7x2kq9vz1ab.us-east-1.rds.amazonaws.com:5432",
                                 "type": "string"},
        # a sensitive output holds the value in plaintext, as Terraform writes it
        "ehr_primary_master_password": {"value": EHR_DB_PASSWORD, "type": "string",
                                        "sensitive": True},
    })
    data.add("aws_caller_identity", "current", {
        "account_id": ACCOUNT,
        "arn": f"arn:aws:sts::{ACCOUNT}:assumed-role/ehr-terraform-deploy/ci-pipeline-8841",
        "id": ACCOUNT,
        "user_id": "AROA" + b32("role:ehr-terraform-deploy", 17) + ":ci-pipeline-8841",
    }, mode="data")

    # access-log target bucket: S3 server access logging only supports SSE-S3 targets
    access_policy = {
        "Version": "2012-10-17",
        "Statement": [
            {"Sid": "S3ServerAccessLogsPolicy", "Effect": "Allow",
             "Principal": {"Service": "logging.s3.amazonaws.com"}, "Action": "s3:PutObject",
             "Resource": f"arn:aws:s3:::{access_logs_bucket}/*",
             "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}},
            tls_only_statement(access_logs_bucket),
        ],
    }
    build_bucket(data, live, rname="access_logs", bucket=access_logs_bucket,
                 tags_extra={"data-classification": "audit"}, kms_key_arn=None,
                 policy_doc=access_policy, policy_render="jsonencode")

    # PHI storage: module.phi_storage["<k>"] (KMS key) -> module.bucket (bucket + facets)
    phi_specs = {
        # key: (supp as strings, live policy rendering)
        "backups":        dict(strings=False, live=dict(pretty=True)),
        "clinical-notes": dict(strings=True, live=dict()),
        "hl7-inbound":    dict(strings=False, live=dict(action_list=True)),
        "imaging":        dict(strings=False, live=dict(stmt_object=True, action_list=True)),
        "lab-results":    dict(strings=True, live=dict(pretty=True, action_list=True)),
    }
    phi_keys = {}
    for k, spec in phi_specs.items():
        outer = f'module.phi_storage["{k}"]'
        inner = outer + ".module.bucket"
        # PLANT (d): key rotation switched off on the imaging key.
        kid, karn = build_kms_key(
            data, live, "this", module=outer, alias=f"alias/ehr-prod-phi-{k}",
            description=f"st-marys-ehr prod PHI: {k}", tags_extra=PHI,
            live_rotation=(k != "imaging"),
            rotation_in_supplementary=(k in ("backups", "lab-results")))
        phi_keys[k] = karn
        bucket = phi_bucket_names[k]
        doc = {"Version": "2012-10-17", "Statement": [tls_only_statement(bucket)]}
        ds_statements = [{
            "actions": ["s3:*"],
            "condition": [{"test": "Bool", "values": ["false"], "variable": "aws:SecureTransport"}],
            "effect": "Deny", "not_actions": [], "not_principals": [], "not_resources": [],
            "principals": [{"identifiers": ["*"], "type": "*"}],
            "resources": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
            "sid": "DenyInsecureTransport"}]
        sse_override = None
        if k == "clinical-notes":
            # PLANT (a): default encryption downgraded in the console: aws:kms -> AES256.
            sse_override = {"rules": [{"applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "AES256", "kmsMasterKeyID": None}, "bucketKeyEnabled": False}]}
        build_bucket(data, live, rname="this", module=inner, bucket=bucket,
                     tags_extra=dict(PHI, **{"phi-dataset": k}), kms_key_arn=karn,
                     policy_doc=doc, policy_render="datasource",
                     live_policy=policy_live(doc, **spec["live"]),
                     logging=(access_logs_bucket, f"{bucket}/"),
                     supp_as_strings=spec["strings"], deps=[f"module.phi_storage.aws_kms_key.this"],
                     live_sse_override=sse_override, datasource_statements=ds_statements)

    # ---- root keys for the data tier
    _, rds_key = build_kms_key(data, live, "rds", alias="alias/ehr-prod-rds",
                               description="st-marys-ehr prod: RDS and Aurora storage", tags_extra=PHI)
    _, ddb_key = build_kms_key(data, live, "dynamodb", alias="alias/ehr-prod-dynamodb",
                               description="st-marys-ehr prod: DynamoDB tables", tags_extra=PHI)
    ebs_kid, ebs_key = build_kms_key(data, live, "ebs", alias="alias/ehr-prod-ebs",
                                     description="st-marys-ehr prod: EBS volumes", tags_extra=PHI)
    _, efs_key = build_kms_key(data, live, "efs", alias="alias/ehr-prod-efs",
                               description="st-marys-ehr prod: EFS file systems", tags_extra=PHI,
                               rotation_in_supplementary=True)

    # ---- DB subnet group (not in the catalog)
    own, all_tags = tagset("ehr-prod-db")
    data.add("aws_db_subnet_group", "ehr", {
        "arn": f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:ehr-prod-db", "description": "EHR data tier",
        "id": "ehr-prod-db", "name": "ehr-prod-db", "name_prefix": "",
        "subnet_ids": PRIVATE_SUBNETS, "supported_network_types": ["IPV4"],
        "tags": own, "tags_all": all_tags, "vpc_id": VPC_ID})
    live.add("AWS::RDS::DBSubnetGroup", "ehr-prod-db", "ehr-prod-db",
             f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:ehr-prod-db", dict(all_tags), {
                 "dBSubnetGroupName": "ehr-prod-db", "dBSubnetGroupDescription": "EHR data tier",
                 "vpcId": VPC_ID, "subnetGroupStatus": "Complete",
                 "subnets": [{"subnetIdentifier": s, "subnetAvailabilityZone": {"name": az},
                              "subnetStatus": "Active"} for s, az in zip(PRIVATE_SUBNETS, AZS)],
                 "dBSubnetGroupArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:subgrp:ehr-prod-db"})

    # ---- RDS instances
    def db_instance(st, rname, *, ident, klass, multi_az, storage, iops, password, backup,
                    az, live_public=False, key_arn, tags_extra, deps, sg_ids, subnet_group,
                    monitoring=True, manage_secret=False, params="ehr-postgres16"):
        rid = "db-" + b32("dbi:" + ident, 26)
        arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{ident}"
        host = f"{ident}.c7x2kq9vz1ab.{REGION}.rds.amazonaws.com"
        own, all_tags = tagset(ident, tags_extra)
        mon_role = f"arn:aws:iam::{ACCOUNT}:role/ehr-prod-rds-monitoring"
        secret = []
        if manage_secret:
            secret = [{"kms_key_id": key_arn, "secret_arn":
                       f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:rds!db-{uuid_for('secret:' + ident)}-{hx('sfx' + ident, 6)}",
                       "secret_status": "active"}]
        attrs = {
            "address": host, "allocated_storage": storage, "allow_major_version_upgrade": None,
            "apply_immediately": False, "arn": arn, "auto_minor_version_upgrade": True,
            "availability_zone": az, "backup_retention_period": backup, "backup_target": "region",
            "backup_window": "06:00-06:30", "blue_green_update": [],
            "ca_cert_identifier": "rds-ca-rsa2048-g1", "character_set_name": "",
            "copy_tags_to_snapshot": True, "custom_iam_instance_profile": "",
            "customer_owned_ip_enabled": False, "database_insights_mode": "standard",
            "db_name": "ehr", "db_subnet_group_name": subnet_group,
            "dedicated_log_volume": False, "delete_automated_backups": True,
            "deletion_protection": True, "domain": "", "domain_auth_secret_arn": "",
            "domain_dns_ips": [], "domain_fqdn": "", "domain_iam_role_name": "", "domain_ou": "",
            "enabled_cloudwatch_logs_exports": ["postgresql", "upgrade"],
            "endpoint": host + ":5432", "engine": "postgres",
            "engine_lifecycle_support": "open-source-rds-extended-support-disabled",
            "engine_version": "16.4", "engine_version_actual": "16.4",
            "final_snapshot_identifier": ident + "-final", "hosted_zone_id": "Z2R2ITUGPM61AM",
            "iam_database_authentication_enabled": True, "id": rid, "identifier": ident,
            "identifier_prefix": "", "instance_class": klass, "iops": iops, "kms_key_id": key_arn,
            "latest_restorable_time": "2026-11-20T05:55:00Z", "license_model": "postgresql-license",
            "listener_endpoint": [], "maintenance_window": "sun:07:00-sun:08:00",
            "manage_master_user_password": True if manage_secret else None,
            "master_user_secret": secret,
            "master_user_secret_kms_key_id": key_arn if manage_secret else None,
            "max_allocated_storage": storage * 4,
            "monitoring_interval": 60 if monitoring else 0,
            "monitoring_role_arn": mon_role if monitoring else "",
            "multi_az": multi_az, "nchar_character_set_name": "", "network_type": "IPV4",
            "option_group_name": "default:postgres-16", "parameter_group_name": params,
            "password": password, "performance_insights_enabled": True,
            "performance_insights_kms_key_id": key_arn, "performance_insights_retention_period": 7,
            "port": 5432, "publicly_accessible": False, "replica_mode": "", "replicas": [],
            "replicate_source_db": "", "resource_id": rid, "restore_to_point_in_time": [],
            "s3_import": [], "skip_final_snapshot": False, "snapshot_identifier": None,
            "status": "available", "storage_encrypted": True, "storage_throughput": 500,
            "storage_type": "gp3", "tags": own, "tags_all": all_tags, "timeouts": None,
            "timezone": "", "upgrade_storage_config": None, "username": "ehr_admin",
            "vpc_security_group_ids": sg_ids,
        }
        sens = [[{"type": "get_attr", "value": "password"}]] if password is not None else []
        st.add("aws_db_instance", rname, attrs, schema_version=2, sensitive=sens, deps=deps,
               private=timeouts_private(create=2400 * NS, update=4800 * NS, delete=3600 * NS,
                                        schema_version=2))
        created = past("rds:" + ident, "%Y-%m-%dT%H:%M:%S.000Z")
        live.add("AWS::RDS::DBInstance", rid, ident, arn, dict(all_tags), {
            "dBInstanceIdentifier": ident, "dBInstanceClass": klass, "engine": "postgres",
            "dBInstanceStatus": "available", "masterUsername": "ehr_admin", "dBName": "ehr",
            "endpoint": {"address": host, "port": 5432, "hostedZoneId": "Z2R2ITUGPM61AM"},
            "allocatedStorage": storage, "instanceCreateTime": created,
            "preferredBackupWindow": "06:00-06:30", "backupRetentionPeriod": backup,
            "dBSecurityGroups": [],
            "vpcSecurityGroups": [{"vpcSecurityGroupId": g, "status": "active"} for g in sg_ids],
            "dBParameterGroups": [{"dBParameterGroupName": params, "parameterApplyStatus": "in-sync"}],
            "availabilityZone": az,
            "dBSubnetGroup": {"dBSubnetGroupName": subnet_group, "dBSubnetGroupDescription": "EHR data tier",
                              "vpcId": VPC_ID, "subnetGroupStatus": "Complete"},
            "preferredMaintenanceWindow": "sun:07:00-sun:08:00", "pendingModifiedValues": {},
            "latestRestorableTime": "2026-11-20T06:05:00.000Z", "multiAZ": multi_az,
            "engineVersion": "16.4", "autoMinorVersionUpgrade": True,
            "readReplicaDBInstanceIdentifiers": [], "licenseModel": "postgresql-license",
            "iops": iops, "storageThroughput": 500,
            "optionGroupMemberships": [{"optionGroupName": "default:postgres-16", "status": "in-sync"}],
            "publiclyAccessible": live_public, "storageType": "gp3", "dbInstancePort": 0,
            "storageEncrypted": True, "kmsKeyId": key_arn, "dbiResourceId": rid,
            "cACertificateIdentifier": "rds-ca-rsa2048-g1", "copyTagsToSnapshot": True,
            "monitoringInterval": 60 if monitoring else 0,
            "enhancedMonitoringResourceArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:RDSOSMetrics:log-stream:{rid}",
            "monitoringRoleArn": mon_role if monitoring else None, "dBInstanceArn": arn,
            "iAMDatabaseAuthenticationEnabled": True, "performanceInsightsEnabled": True,
            "performanceInsightsKMSKeyId": key_arn, "performanceInsightsRetentionPeriod": 7,
            "enabledCloudwatchLogsExports": ["postgresql", "upgrade"],
            "deletionProtection": True, "associatedRoles": [], "maxAllocatedStorage": storage * 4,
            "customerOwnedIpEnabled": False, "networkType": "IPV4",
            "tagList": tag_list(all_tags),
        }, {}, az=az, created=created)
        return rid

    # PLANT (e): the primary EHR database made publicly accessible outside the pipeline.
    db_instance(data, "ehr_primary", ident="ehr-primary", klass="db.r6g.xlarge", multi_az=True,
                storage=1000, iops=12000, password=EHR_DB_PASSWORD, backup=35, az="us-east-1a",
                live_public=True, key_arn=rds_key, tags_extra=PHI, subnet_group="ehr-prod-db",
                sg_ids=[g_db], deps=["aws_db_subnet_group.ehr", "aws_kms_key.rds"])
    db_instance(data, "reporting", ident="ehr-reporting", klass="db.r6g.large", multi_az=False,
                storage=500, iops=3000, password=None, backup=14, az="us-east-1b",
                key_arn=rds_key, tags_extra=PHI, subnet_group="ehr-prod-db", sg_ids=[g_db],
                manage_secret=True, deps=["aws_db_subnet_group.ehr", "aws_kms_key.rds"])

    # ---- Aurora cluster
    cl_ident = "ehr-analytics"
    cl_rid = "cluster-" + b32("cluster:" + cl_ident, 26)
    cl_arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:cluster:{cl_ident}"
    cl_host = f"{cl_ident}.cluster-c7x2kq9vz1ab.{REGION}.rds.amazonaws.com"
    own, all_tags = tagset(cl_ident, PHI)
    data.add("aws_rds_cluster", "analytics", {
        "allocated_storage": 1, "allow_major_version_upgrade": None, "apply_immediately": None,
        "arn": cl_arn, "availability_zones": AZS, "backtrack_window": 0,
        "backup_retention_period": 35, "ca_certificate_identifier": None,
        "ca_certificate_valid_till": None, "cluster_identifier": cl_ident,
        "cluster_identifier_prefix": "", "cluster_members": [], "cluster_resource_id": cl_rid,
        "cluster_scalability_type": "", "copy_tags_to_snapshot": True, "database_insights_mode": "standard",
        "database_name": "analytics", "db_cluster_instance_class": "",
        "db_cluster_parameter_group_name": "default.aurora-postgresql16",
        "db_instance_parameter_group_name": None, "db_subnet_group_name": "ehr-prod-db",
        "db_system_id": "", "delete_automated_backups": True, "deletion_protection": True,
        "domain": "", "domain_iam_role_name": "", "enable_global_write_forwarding": False,
        "enable_http_endpoint": False, "enable_local_write_forwarding": False,
        "enabled_cloudwatch_logs_exports": ["postgresql"], "endpoint": cl_host,
        "engine": "aurora-postgresql", "engine_lifecycle_support": "open-source-rds-extended-support-disabled",
        "engine_mode": "provisioned", "engine_version": "16.4", "engine_version_actual": "16.4",
        "final_snapshot_identifier": "ehr-analytics-final", "global_cluster_identifier": "",
        "hosted_zone_id": "Z2R2ITUGPM61AM", "iam_database_authentication_enabled": True,
        "iam_roles": [], "id": cl_ident, "iops": 0, "kms_key_id": rds_key,
        "manage_master_user_password": None, "master_password": AURORA_PASSWORD,
        "master_user_secret": [], "master_user_secret_kms_key_id": None,
        "master_username": "analytics_admin", "monitoring_interval": 0, "monitoring_role_arn": "",
        "network_type": "IPV4", "performance_insights_enabled": False,
        "performance_insights_kms_key_id": "", "performance_insights_retention_period": 0,
        "port": 5432, "preferred_backup_window": "05:00-05:30",
        "preferred_maintenance_window": "sun:08:00-sun:09:00",
        "reader_endpoint": f"{cl_ident}.cluster-ro-c7x2kq9vz1ab.{REGION}.rds.amazonaws.com",
        "replication_source_identifier": "", "restore_to_point_in_time": [], "s3_import": [],
        "scaling_configuration": [], "serverlessv2_scaling_configuration": [
            {"max_capacity": 16, "min_capacity": 0.5, "seconds_until_auto_pause": None}],
        "skip_final_snapshot": False, "snapshot_identifier": None, "source_region": None,
        "storage_encrypted": True, "storage_type": "aurora-iopt1", "tags": own,
        "tags_all": all_tags, "timeouts": None, "vpc_security_group_ids": [g_db],
    }, sensitive=[[{"type": "get_attr", "value": "master_password"}]],
        deps=["aws_db_subnet_group.ehr", "aws_kms_key.rds"],
        private=timeouts_private(create=7200 * NS, update=7200 * NS, delete=7200 * NS))
    live.add("AWS::RDS::DBCluster", cl_rid, cl_ident, cl_arn, dict(all_tags), {
        "allocatedStorage": 1, "availabilityZones": AZS, "backupRetentionPeriod": 35,
        "databaseName": "analytics", "dBClusterIdentifier": cl_ident,
        "dBClusterParameterGroup": "default.aurora-postgresql16", "dBSubnetGroup": "ehr-prod-db",
        "status": "available", "earliestRestorableTime": "2026-10-16T05:07:44.000Z",
        "endpoint": cl_host, "readerEndpoint": f"{cl_ident}.cluster-ro-c7x2kq9vz1ab.{REGION}.rds.amazonaws.com",
        "multiAZ": False, "engine": "aurora-postgresql", "engineVersion": "16.4",
        "latestRestorableTime": "2026-11-20T06:02:31.000Z", "port": 5432,
        "masterUsername": "analytics_admin", "preferredBackupWindow": "05:00-05:30",
        "preferredMaintenanceWindow": "sun:08:00-sun:09:00", "readReplicaIdentifiers": [],
        "dBClusterMembers": [],
        "vpcSecurityGroups": [{"vpcSecurityGroupId": g_db, "status": "active"}],
        "hostedZoneId": "Z2R2ITUGPM61AM", "storageEncrypted": True, "kmsKeyId": rds_key,
        "dbClusterResourceId": cl_rid, "dBClusterArn": cl_arn, "associatedRoles": [],
        "iAMDatabaseAuthenticationEnabled": True, "clusterCreateTime": past("cluster:" + cl_ident),
        "enabledCloudwatchLogsExports": ["postgresql"], "engineMode": "provisioned",
        "deletionProtection": True, "httpEndpointEnabled": False, "copyTagsToSnapshot": True,
        "crossAccountClone": False, "storageType": "aurora-iopt1",
        "serverlessV2ScalingConfiguration": {"minCapacity": 0.5, "maxCapacity": 16.0},
        "tagList": tag_list(all_tags),
    }, {})

    # ---- DynamoDB (for_each)
    tables = {
        "consent-records": dict(billing="PAY_PER_REQUEST", hash="consent_id", range=None,
                                stream=None, ttl="expires_at"),
        "patient-index": dict(billing="PAY_PER_REQUEST", hash="patient_id", range="record_type",
                              stream="NEW_AND_OLD_IMAGES", ttl=None),
        "session-audit": dict(billing="PROVISIONED", hash="session_id", range="ts", stream=None,
                              ttl="expires_at", rcu=20, wcu=40),
    }
    for k, t in tables.items():
        name = f"ehr-prod-{k}"
        arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        own, all_tags = tagset(name, PHI)
        attr_defs = [{"name": t["hash"], "type": "S"}] + (
            [{"name": t["range"], "type": "S" if t["range"] != "ts" else "N"}] if t["range"] else [])
        label = "2026-03-04T11:52:18.210" if t["stream"] else ""
        stream_arn = f"{arn}/stream/{label}" if t["stream"] else ""
        prov = t["billing"] == "PROVISIONED"
        data.add("aws_dynamodb_table", "ehr", {
            "arn": arn, "attribute": attr_defs, "billing_mode": t["billing"],
            "deletion_protection_enabled": True, "global_secondary_index": [],
            "hash_key": t["hash"], "id": name, "import_table": [], "local_secondary_index": [],
            "name": name, "on_demand_throughput": [],
            "point_in_time_recovery": [{"enabled": True, "recovery_period_in_days": 35}],
            "range_key": t["range"], "read_capacity": t.get("rcu", 0), "replica": [],
            "restore_date_time": None, "restore_source_name": None,
            "restore_source_table_arn": None, "restore_to_latest_time": None,
            "server_side_encryption": [{"enabled": True, "kms_key_arn": ddb_key}],
            "stream_arn": stream_arn, "stream_enabled": bool(t["stream"]),
            "stream_label": label, "stream_view_type": t["stream"] or "",
            "table_class": "STANDARD", "tags": own, "tags_all": all_tags, "timeouts": None,
            "ttl": [{"attribute_name": t["ttl"] or "", "enabled": bool(t["ttl"])}],
            "write_capacity": t.get("wcu", 0),
        }, index_key=k, schema_version=1, deps=["aws_kms_key.dynamodb"],
            private=timeouts_private(create=1800 * NS, update=3600 * NS, delete=600 * NS,
                                     schema_version=1))
        conf = {
            "attributeDefinitions": [{"attributeName": a["name"], "attributeType": a["type"]}
                                     for a in attr_defs],
            "tableName": name,
            "keySchema": [{"attributeName": t["hash"], "keyType": "HASH"}]
            + ([{"attributeName": t["range"], "keyType": "RANGE"}] if t["range"] else []),
            "tableStatus": "ACTIVE",
            "creationDateTime": past("ddb:" + name, "%Y-%m-%dT%H:%M:%S.000Z"),
            "provisionedThroughput": {"numberOfDecreasesToday": 0,
                                      "readCapacityUnits": t.get("rcu", 0),
                                      "writeCapacityUnits": t.get("wcu", 0)},
            "tableSizeBytes": int(hx("size" + name, 8), 16) % 90_000_000_000,
            "itemCount": int(hx("items" + name, 8), 16) % 40_000_000,
            "tableArn": arn,
            "tableId": uuid_for("tableid:" + name),
            "sSEDescription": {"status": "ENABLED", "sSEType": "KMS", "kMSMasterKeyArn": ddb_key},
            "deletionProtectionEnabled": True,
            "tableClassSummary": {"tableClass": "STANDARD"},
        }
        if not prov:
            # provisioned tables created as PROVISIONED carry no billingModeSummary in Config
            conf["billingModeSummary"] = {"billingMode": "PAY_PER_REQUEST",
                                          "lastUpdateToPayPerRequestDateTime": conf["creationDateTime"]}
        if t["stream"]:
            conf["streamSpecification"] = {"streamEnabled": True, "streamViewType": t["stream"]}
            conf["latestStreamLabel"] = label
            conf["latestStreamArn"] = stream_arn
        live.add("AWS::DynamoDB::Table", name, name, arn, dict(all_tags), conf, {
            "ContinuousBackupsDescription": {
                "continuousBackupsStatus": "ENABLED",
                "pointInTimeRecoveryDescription": {
                    "pointInTimeRecoveryStatus": "ENABLED",
                    "recoveryPeriodInDays": 35,
                    "earliestRestorableDateTime": "2026-10-16T06:00:00.000Z",
                    "latestRestorableDateTime": "2026-11-20T05:55:00.000Z"}},
            "Tags": tag_list(all_tags)})

    # ---- EBS volumes (count) -- PACS image cache
    for i in range(4):
        vid = "vol-0" + hx(f"vol:pacs_cache:{i}", 16)
        az = AZS[i % 3]
        own, all_tags = tagset(f"ehr-prod-pacs-cache-{i}", PHI)
        data.add("aws_ebs_volume", "pacs_cache", {
            "arn": f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/{vid}", "availability_zone": az,
            "create_time": past(f"vol-created:{i}"), "encrypted": True, "final_snapshot": False,
            "id": vid, "iops": 3000, "kms_key_id": ebs_key, "multi_attach_enabled": False,
            "outpost_arn": "", "size": 500, "snapshot_id": "", "tags": own, "tags_all": all_tags,
            "throughput": 250, "timeouts": None, "type": "gp3",
        }, index_key=i, deps=["aws_kms_key.ebs"])
        if i == 2:
            continue  # PLANT (c): volume deleted out of band -> no configuration item at all
        live_tags = dict(all_tags)
        if i == 0:
            # restored by AWS Backup: AWS adds an aws:-prefixed tag Terraform never sees
            live_tags["aws:backup:source-resource"] = f"{vid}-20261002"
        live.add("AWS::EC2::Volume", vid, vid, f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/{vid}",
                 live_tags, {
                     "attachments": [], "availabilityZone": az,
                     "createTime": past(f"vol-created:{i}", "%Y-%m-%dT%H:%M:%S.000Z"),
                     "encrypted": True, "kmsKeyId": ebs_key, "size": 500, "snapshotId": "",
                     "state": "available", "volumeId": vid, "iops": 3000,
                     "tags": tag_list(live_tags), "volumeType": "gp3", "fastRestored": None,
                     "multiAttachEnabled": False, "throughput": 250,
                 }, {}, az=az)

    # ---- EFS
    for rname, fsname, perf, thr in (("shared_documents", "ehr-prod-shared-documents",
                                      "generalPurpose", "elastic"),
                                     ("dicom_scratch", "ehr-prod-dicom-scratch", "maxIO",
                                      "bursting")):
        fsid = "fs-0" + hx("efs:" + fsname, 16)
        arn = f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{fsid}"
        own, all_tags = tagset(fsname, PHI)
        data.add("aws_efs_file_system", rname, {
            "arn": arn, "availability_zone_id": "", "availability_zone_name": "",
            "creation_token": "terraform-" + hx("token" + fsname, 26), "dns_name": f"{fsid}.efs.{REGION}.amazonaws.com",
            "encrypted": True, "id": fsid, "kms_key_id": efs_key,
            "lifecycle_policy": [{"transition_to_archive": "", "transition_to_ia": "AFTER_30_DAYS",
                                  "transition_to_primary_storage_class": ""}],
            "name": fsname, "number_of_mount_targets": 3, "owner_id": ACCOUNT,
            "performance_mode": perf, "protection": [{"replication_overwrite": "ENABLED"}],
            "provisioned_throughput_in_mibps": 0,
            "size_in_bytes": [{"value": 6144 + int(hx("sz" + fsname, 6), 16),
                               "value_in_archive": 0, "value_in_ia": 0,
                               "value_in_standard": 6144 + int(hx("sz" + fsname, 6), 16)}],
            "tags": own, "tags_all": all_tags, "throughput_mode": thr,
        }, deps=["aws_kms_key.efs"])
        live.add("AWS::EFS::FileSystem", fsid, fsname, arn, dict(all_tags), {
            "FileSystemId": fsid, "Arn": arn, "Encrypted": True, "KmsKeyId": efs_key,
            "PerformanceMode": perf, "ThroughputMode": thr,
            "BackupPolicy": {"Status": "ENABLED"},
            "LifecyclePolicies": [{"TransitionToIA": "AFTER_30_DAYS"}],
            "FileSystemProtection": {"ReplicationOverwriteProtection": "ENABLED"},
            "FileSystemTags": tag_list(all_tags, "Key", "Value"),
        }, {})

    # ------------------------------------------------------------------ app.tfstate
    app = State("st-marys-ehr/prod/app", 89, outputs={
        "fhir_api_function_arn": {"value": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:ehr-fhir-api",
                                  "type": "string"}})
    app_kid, app_key = build_kms_key(
        app, live, "app", alias="alias/ehr-prod-app",
        description="st-marys-ehr prod: Lambda environment, SQS, SNS and Lambda log groups",
        tags_extra=PHI,
        service_principals=("sns.amazonaws.com", "sqs.amazonaws.com", f"logs.{REGION}.amazonaws.com"))

    # ---- SNS
    topics = {}

    def topic(rname, name, display, kms_tf, kms_live, policy_doc=None, policy_live_str=None):
        arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{name}"
        topics[rname] = arn
        own, all_tags = tagset(name, PHI if rname == "clinical_events" else None)
        if policy_doc is None:
            # AWS's default topic policy: Terraform stores what the API returns, verbatim
            default = {"Version": "2008-10-17", "Id": "__default_policy_ID", "Statement": [{
                "Sid": "__default_statement_ID", "Effect": "Allow", "Principal": {"AWS": "*"},
                "Action": ["SNS:GetTopicAttributes", "SNS:SetTopicAttributes", "SNS:AddPermission",
                           "SNS:RemovePermission", "SNS:DeleteTopic", "SNS:Subscribe",
                           "SNS:ListSubscriptionsByTopic", "SNS:Publish"],
                "Resource": arn, "Condition": {"StringEquals": {"AWS:SourceOwner": ACCOUNT}}}]}
            tf_policy = live_policy_str = policy_live(default)
        else:
            tf_policy = policy_jsonencode(policy_doc)
            live_policy_str = policy_live_str
        app.add("aws_sns_topic", rname, {
            "application_failure_feedback_role_arn": "", "application_success_feedback_role_arn": "",
            "application_success_feedback_sample_rate": 0, "archive_policy": "", "arn": arn,
            "beginning_archive_time": "", "content_based_deduplication": False,
            "delivery_policy": "", "display_name": display, "fifo_throughput_scope": "",
            "fifo_topic": False,
            "firehose_failure_feedback_role_arn": "", "firehose_success_feedback_role_arn": "",
            "firehose_success_feedback_sample_rate": 0, "http_failure_feedback_role_arn": "",
            "http_success_feedback_role_arn": "", "http_success_feedback_sample_rate": 0, "id": arn,
            "kms_master_key_id": kms_tf, "lambda_failure_feedback_role_arn": "",
            "lambda_success_feedback_role_arn": "", "lambda_success_feedback_sample_rate": 0,
            "name": name, "name_prefix": "", "owner": ACCOUNT, "policy": tf_policy,
            "signature_version": 2, "sqs_failure_feedback_role_arn": "",
            "sqs_success_feedback_role_arn": "", "sqs_success_feedback_sample_rate": 0,
            "tags": own, "tags_all": all_tags, "tracing_config": "",
        }, deps=["aws_kms_key.app"])
        live.add("AWS::SNS::Topic", arn, name, arn, dict(all_tags), {
            "TopicArn": arn, "Owner": ACCOUNT, "Policy": live_policy_str, "DisplayName": display,
            "SubscriptionsPending": "0", "SubscriptionsConfirmed": "1", "SubscriptionsDeleted": "0",
            "EffectiveDeliveryPolicy": as_json_string({"http": {"defaultHealthyRetryPolicy": {
                "minDelayTarget": 20, "maxDelayTarget": 20, "numRetries": 3, "numMaxDelayRetries": 0,
                "numNoDelayRetries": 0, "numMinDelayRetries": 0, "backoffFunction": "linear"},
                "disableSubscriptionOverrides": False, "defaultRequestPolicy": {"headerContentType": "text/plain; charset=UTF-8"}}}),
            "KmsMasterKeyId": kms_live, "SignatureVersion": "2",
        }, {})
        return arn

    sec_name = "ehr-prod-security-alerts"
    sec_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{sec_name}"
    sec_policy = {"Version": "2012-10-17", "Statement": [
        {"Sid": "AllowEventBridgePublish", "Effect": "Allow",
         "Principal": {"Service": "events.amazonaws.com"}, "Action": "sns:Publish",
         "Resource": sec_arn},
        {"Sid": "AllowCloudWatchAlarms", "Effect": "Allow",
         "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action": "sns:Publish",
         "Resource": sec_arn, "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}}}]}
    # g: KMS key as ARN in state, bare key id live; policy re-ordered with Action arrays live
    topic("security_alerts", sec_name, "EHR Security Alerts", app_key, app_kid,
          policy_doc=sec_policy, policy_live_str=policy_live(sec_policy, action_list=True))
    topic("clinical_events", "ehr-prod-clinical-events", "", app_kid, app_kid)

    # ---- SQS
    def queue(rname, name, *, kms_tf, kms_live, managed_sse=False, retention, visibility,
              policy_doc=None, policy_live_str=None, redrive=None, deps=None):
        url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
        arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        own, all_tags = tagset(name, PHI)
        app.add("aws_sqs_queue", rname, {
            "arn": arn, "content_based_deduplication": False, "deduplication_scope": "",
            "delay_seconds": 0, "fifo_queue": False, "fifo_throughput_limit": "", "id": url,
            "kms_data_key_reuse_period_seconds": 300, "kms_master_key_id": kms_tf,
            "max_message_size": 262144, "message_retention_seconds": retention, "name": name,
            "name_prefix": "", "policy": policy_jsonencode(policy_doc) if policy_doc else "",
            "receive_wait_time_seconds": 20, "redrive_allow_policy": "",
            "redrive_policy": (json.dumps({"deadLetterTargetArn": redrive, "maxReceiveCount": 5},
                                          separators=(",", ":")) if redrive else ""),
            "sqs_managed_sse_enabled": managed_sse, "tags": own, "tags_all": all_tags,
            "timeouts": None, "url": url, "visibility_timeout_seconds": visibility,
        }, deps=deps, private=timeouts_private(create=180 * NS, update=180 * NS, delete=180 * NS))
        created = str(epoch_ms(past("sqs:" + name)) // 1000)
        conf = {
            "QueueUrl": url, "QueueArn": arn,
            "ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0",
            "ApproximateNumberOfMessagesDelayed": "0", "CreatedTimestamp": created,
            "LastModifiedTimestamp": created, "VisibilityTimeout": str(visibility),
            "MaximumMessageSize": "262144", "MessageRetentionPeriod": str(retention),
            "DelaySeconds": "0", "ReceiveMessageWaitTimeSeconds": "20",
            "SqsManagedSseEnabled": "true" if managed_sse else "false",
        }
        if kms_live:
            conf["KmsMasterKeyId"] = kms_live
            conf["KmsDataKeyReusePeriodSeconds"] = "300"
        if policy_live_str:
            conf["Policy"] = policy_live_str
        if redrive:
            conf["RedrivePolicy"] = json.dumps({"deadLetterTargetArn": redrive, "maxReceiveCount": 5})
        live.add("AWS::SQS::Queue", url, name, arn, dict(all_tags), conf, {})
        return url, arn

    dlq_url, dlq_arn = queue("hl7_inbound_dlq", "ehr-prod-hl7-inbound-dlq", kms_tf=app_key,
                             kms_live=app_kid, retention=1209600, visibility=30,
                             deps=["aws_kms_key.app"])
    hl7_q = "ehr-prod-hl7-inbound"
    hl7_policy = {"Version": "2012-10-17", "Statement": [{
        "Sid": "AllowClinicalEventsTopic", "Effect": "Allow",
        "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": f"arn:aws:sqs:{REGION}:{ACCOUNT}:{hl7_q}",
        "Condition": {"ArnEquals": {"aws:SourceArn": topics["clinical_events"]}}}]}
    # g: KMS bare id in state, full ARN live; numbers as strings; policy as a single Statement object
    hl7_url, hl7_arn = queue("hl7_inbound", hl7_q, kms_tf=app_kid, kms_live=app_key,
                             retention=1209600, visibility=360, policy_doc=hl7_policy,
                             policy_live_str=policy_live(hl7_policy, stmt_object=True),
                             redrive=dlq_arn,
                             deps=["aws_kms_key.app", "aws_sns_topic.clinical_events",
                                   "aws_sqs_queue.hl7_inbound_dlq"])
    claims_url, _ = queue("claims_export", "ehr-prod-claims-export", kms_tf="", kms_live=None,
                          managed_sse=True, retention=345600, visibility=900)

    # ---- Lambda functions, their roles and log groups (for_each)
    boundary = f"arn:aws:iam::{ACCOUNT}:policy/ehr-prod-workload-boundary"
    fns = {
        "audit-forwarder": dict(runtime="provided.al2023", handler="bootstrap", mem=256, timeout=30,
                                kms=app_key, vpc=False,
                                env={"RUST_LOG": "warn", "SECURITY_TOPIC_ARN": sec_arn,
                                     "SOURCE_LOG_GROUP": "/aws/cloudtrail/st-marys-ehr-prod"}),
        "claims-export": dict(runtime="nodejs20.x", handler="index.handler", mem=512, timeout=300,
                              kms="", vpc=True,
                              env={"CLAIMS_QUEUE_URL": claims_url, "NODE_OPTIONS": "--enable-source-maps",
                                   "EXPORT_PREFIX": "claims/x12-837/"}),
        "fhir-api": dict(runtime="python3.12", handler="fhir_api.handler.lambda_handler", mem=1024,
                         timeout=29, kms=app_key, vpc=True,
                         env={"PATIENT_INDEX_TABLE": "ehr-prod-patient-index",
                              "CONSENT_TABLE": "ehr-prod-consent-records",
                              "POWERTOOLS_SERVICE_NAME": "fhir-api", "LOG_LEVEL": "INFO"}),
        "hl7-ingest": dict(runtime="provided.al2023", handler="bootstrap", mem=512, timeout=60,
                           kms=app_key, vpc=True,
                           env={"RUST_LOG": "info", "INBOUND_QUEUE_URL": hl7_url,
                                "PHI_BUCKET": phi_bucket_names["hl7-inbound"]}),
        "image-indexer": dict(runtime="python3.12", handler="indexer.main.handler", mem=2048,
                              timeout=900, kms=app_key, vpc=True,
                              env={"IMAGING_BUCKET": phi_bucket_names["imaging"],
                                   "DICOM_MOUNT": "/mnt/dicom", "LOG_LEVEL": "INFO"}),
    }
    basic = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
    vpcexec = "arn:aws:iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole"
    trust_renders = [
        lambda d: policy_live(d),
        lambda d: policy_live(d, action_list=True),
        lambda d: policy_live(d, stmt_object=True),
        lambda d: policy_live(d, pretty=True),
        lambda d: policy_live(d, stmt_object=True, action_list=True, pretty=True),
    ]
    for n, (k, f) in enumerate(sorted(fns.items())):
        fname = f"ehr-{k}"
        managed = [basic] + ([vpcexec] if f["vpc"] else [])
        if k == "image-indexer":
            # create_before_destroy role with name_prefix: the replaced role is still deposed
            role_name = "ehr-image-indexer-20261112081530443100000001"
            build_role(app, live, "lambda", name="ehr-image-indexer-20260903141204118200000001",
                       trust=trust_policy("lambda.amazonaws.com"),
                       description="Execution role for ehr-image-indexer", managed=managed,
                       index_key=k, boundary=boundary, name_prefix="ehr-image-indexer-",
                       deposed="a1b2c3d4", cbd=True, add_live=False,
                       created="2026-09-03T14:12:04Z")
            _, role_arn = build_role(app, live, "lambda", name=role_name,
                                     trust=trust_policy("lambda.amazonaws.com"),
                                     description="Execution role for ehr-image-indexer",
                                     managed=managed, index_key=k, boundary=boundary,
                                     name_prefix="ehr-image-indexer-", cbd=True,
                                     live_trust_render=trust_renders[n % 5],
                                     created="2026-11-12T08:15:30Z")
        else:
            _, role_arn = build_role(app, live, "lambda", name=f"ehr-prod-{k}-lambda",
                                     trust=trust_policy("lambda.amazonaws.com"),
                                     description=f"Execution role for {fname}", managed=managed,
                                     index_key=k, boundary=boundary if k != "audit-forwarder" else "",
                                     live_trust_render=trust_renders[n % 5])
        lg_name = f"/aws/lambda/{fname}"
        build_log_group(app, live, "lambda", name=lg_name, retention=2192, kms_key=app_key,
                        index_key=k, tags_extra=PHI, deps=["aws_kms_key.app"])

        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fname}"
        own, all_tags = tagset(fname, PHI if k != "audit-forwarder" else None)
        code_hash = b64sha("code:" + fname)
        size = 1_000_000 + int(hx("codesize" + fname, 6), 16)
        last_mod = past("lambda-mod:" + fname, "%Y-%m-%dT%H:%M:%S.000+0000",
                        start=dt.datetime(2026, 10, 1), span_days=45)
        vpc_cfg = ([{"ipv6_allowed_for_dual_stack": False, "security_group_ids": [g_lambda],
                     "subnet_ids": PRIVATE_SUBNETS, "vpc_id": VPC_ID}] if f["vpc"] else [])
        attrs = {
            "architectures": ["arm64"], "arn": arn, "code_sha256": code_hash,
            "code_signing_config_arn": "", "dead_letter_config": [], "description": f"st-marys-ehr {k}",
            "environment": [{"variables": f["env"]}], "ephemeral_storage": [{"size": 512}],
            "file_system_config": ([{"arn": f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:access-point/fsap-0{hx('ap', 16)}",
                                     "local_mount_path": "/mnt/dicom"}] if k == "image-indexer" else []),
            "filename": None, "function_name": fname, "handler": f["handler"], "id": fname,
            "image_config": [], "image_uri": "",
            "invoke_arn": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations",
            "kms_key_arn": f["kms"], "last_modified": last_mod, "layers": [],
            "logging_config": [{"application_log_level": "", "log_format": "Text",
                                "log_group": lg_name, "system_log_level": ""}],
            "memory_size": f["mem"], "package_type": "Zip", "publish": False,
            "qualified_arn": arn + ":$LATEST",
            "qualified_invoke_arn": f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}:$LATEST/invocations",
            "replace_security_groups_on_destroy": None, "replacement_security_group_ids": None,
            "reserved_concurrent_executions": -1, "role": role_arn, "runtime": f["runtime"],
            "s3_bucket": f"stmarys-ehr-prod-artifacts-{ACCOUNT}", "s3_key": f"lambda/{fname}/{hx('key' + fname, 12)}.zip",
            "s3_object_version": None, "signing_job_arn": "", "signing_profile_version_arn": "",
            "skip_destroy": False, "snap_start": [], "source_code_hash": code_hash,
            "source_code_size": size, "tags": own, "tags_all": all_tags, "timeout": f["timeout"],
            "timeouts": None, "tracing_config": [{"mode": "Active"}], "version": "$LATEST",
            "vpc_config": vpc_cfg,
        }
        # the claims-export deploy failed its post-create step: instance is tainted
        app.add("aws_lambda_function", "handler", attrs, index_key=k,
                status="tainted" if k == "claims-export" else None,
                deps=["aws_cloudwatch_log_group.lambda", "aws_iam_role.lambda", "aws_kms_key.app"],
                private=timeouts_private(create=600 * NS, update=600 * NS, delete=600 * NS))
        app.add("aws_iam_role_policy_attachment", "lambda_basic", {
            "id": f"{role_arn.rsplit('/', 1)[1]}-{hx('rpa' + k, 20)}",
            "policy_arn": basic, "role": role_arn.rsplit("/", 1)[1]},
            index_key=k, deps=["aws_iam_role.lambda"])
        # live env map in a different key order than state
        env_live = {key: f["env"][key] for key in sorted(f["env"], reverse=True)}
        conf = {
            "functionName": fname, "functionArn": arn, "runtime": f["runtime"], "role": role_arn,
            "handler": f["handler"], "codeSize": size, "description": f"st-marys-ehr {k}",
            "timeout": f["timeout"], "memorySize": f["mem"], "lastModified": last_mod,
            "codeSha256": code_hash, "version": "$LATEST",
            "vpcConfig": ({"subnetIds": list(reversed(PRIVATE_SUBNETS)), "securityGroupIds": [g_lambda],
                           "vpcId": VPC_ID, "ipv6AllowedForDualStack": False} if f["vpc"]
                          else {"subnetIds": [], "securityGroupIds": []}),
            "tracingConfig": {"mode": "Active"},
            "environment": {"variables": env_live},
            "revisionId": uuid_for("rev:" + fname), "layers": [], "state": "Active",
            "lastUpdateStatus": "Successful", "packageType": "Zip", "architectures": ["arm64"],
            "ephemeralStorage": {"size": 512},
            "loggingConfig": {"logFormat": "Text", "logGroup": lg_name},
        }
        if f["kms"]:
            conf["kMSKeyArn"] = f["kms"]
        live.add("AWS::Lambda::Function", fname, fname, arn, dict(all_tags), conf, {})

    # ------------------------------------------------------------------ AWS-managed / unmanaged live
    build_aws_managed_key(live, "alias/aws/s3", "S3")
    build_aws_managed_key(live, "alias/aws/lambda", "Lambda")
    build_aws_managed_key(live, "alias/aws/rds", "RDS")
    build_aws_reserved_role(live, "AWSServiceRoleForRDS", "/aws-service-role/rds.amazonaws.com/",
                            "rds.amazonaws.com",
                            ["arn:aws:iam::aws:policy/aws-service-role/AmazonRDSServiceRolePolicy"])
    build_aws_reserved_role(live, "AWSServiceRoleForElasticLoadBalancing",
                            "/aws-service-role/elasticloadbalancing.amazonaws.com/",
                            "elasticloadbalancing.amazonaws.com",
                            ["arn:aws:iam::aws:policy/aws-service-role/AWSElasticLoadBalancingServiceRolePolicy"])
    build_aws_reserved_role(live, "AWSReservedSSO_EHRReadOnly_" + hx("sso-ro", 16),
                            "/aws-reserved/sso.amazonaws.com/", None,
                            ["arn:aws:iam::aws:policy/ReadOnlyAccess"])

    # PLANT (f): a bucket created by hand for an ad-hoc export, in no state file.
    rogue = "stmarys-ehr-export-tmp-20261118"
    supp = s3_supp_common()
    supp.update({
        "BucketLoggingConfiguration": {"destinationBucketName": None, "logFilePrefix": None},
        "BucketPolicy": {"policyText": None},
        "BucketVersioningConfiguration": {"status": "Off", "isMfaDeleteEnabled": None},
        "PublicAccessBlockConfiguration": {"blockPublicAcls": True, "ignorePublicAcls": True,
                                           "blockPublicPolicy": True, "restrictPublicBuckets": True},
        "ServerSideEncryptionConfiguration": {"rules": [{"applyServerSideEncryptionByDefault": {
            "sseAlgorithm": "AES256", "kmsMasterKeyID": None}, "bucketKeyEnabled": False}]},
    })
    live.add("AWS::S3::Bucket", rogue, rogue, f"arn:aws:s3:::{rogue}", {}, {
        "name": rogue, "owner": {"displayName": None, "id": CANONICAL_USER},
        "creationDate": "2026-11-18T16:42:09.000Z"}, supp, created="2026-11-18T16:42:09.000Z")

    return {"network": net, "data": data, "app": app}, live


# =========================================================================== sensitive fixture

def build_sensitive():
    st = State("st-marys-ehr/prod/legacy-billing", 5)
    live = Live()
    ident = "legacy-billing"
    rid = "db-" + b32("dbi:" + ident, 26)
    arn = f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{ident}"
    key = kms_arn(uuid_for("kms:alias/ehr-prod-rds"))
    host = f"{ident}.c7x2kq9vz1ab.{REGION}.rds.amazonaws.com"
    own, all_tags = tagset(ident, PHI)
    st.add("aws_db_instance", "legacy_billing", {
        "address": host, "allocated_storage": 200, "arn": arn, "availability_zone": "us-east-1c",
        "backup_retention_period": 14, "db_name": "billing", "db_subnet_group_name": "ehr-prod-db",
        "deletion_protection": True, "endpoint": host + ":5432", "engine": "postgres",
        "engine_version": "15.8", "hosted_zone_id": "Z2R2ITUGPM61AM",
        "iam_database_authentication_enabled": False, "id": rid, "identifier": ident,
        "instance_class": "db.t4g.large", "kms_key_id": key, "multi_az": False,
        "password": LEGACY_PASSWORD, "port": 5432, "publicly_accessible": False,
        "resource_id": rid, "status": "available", "storage_encrypted": True,
        "storage_type": "gp3", "tags": own, "tags_all": all_tags, "username": "billing_admin",
        "vpc_security_group_ids": [sg_id("db")],
    }, schema_version=2, sensitive=[[{"type": "get_attr", "value": "password"}]])
    live.add("AWS::RDS::DBInstance", rid, ident, arn, dict(all_tags), {
        "dBInstanceIdentifier": ident, "dBInstanceClass": "db.t4g.large", "engine": "postgres",
        "dBInstanceStatus": "available", "masterUsername": "billing_admin",
        "endpoint": {"address": host, "port": 5432, "hostedZoneId": "Z2R2ITUGPM61AM"},
        "backupRetentionPeriod": 14, "multiAZ": False, "engineVersion": "15.8",
        "publiclyAccessible": True,  # changed live
        "storageEncrypted": True, "kmsKeyId": key, "dbiResourceId": rid, "dBInstanceArn": arn,
        "iAMDatabaseAuthenticationEnabled": False, "deletionProtection": True,
        "availabilityZone": "us-east-1c",
    }, {}, az="us-east-1c")

    fname = "ehr-legacy-billing-sync"
    farn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fname}"
    role = f"arn:aws:iam::{ACCOUNT}:role/ehr-prod-legacy-billing-sync-lambda"
    own, all_tags = tagset(fname, PHI)
    code_hash = b64sha("code:" + fname)
    st.add("aws_lambda_function", "billing_sync", {
        "architectures": ["x86_64"], "arn": farn, "code_sha256": code_hash,
        "environment": [{"variables": {"DB_PASSWORD": LEGACY_PASSWORD, "LOG_LEVEL": "info"}}],
        "function_name": fname, "handler": "sync.handler", "id": fname, "kms_key_arn": "",
        "last_modified": "2026-08-14T10:02:11.000+0000", "memory_size": 256,
        "package_type": "Zip", "role": role, "runtime": "python3.12",
        "source_code_hash": code_hash, "tags": own, "tags_all": all_tags, "timeout": 120,
        "version": "$LATEST",
    })
    live.add("AWS::Lambda::Function", fname, fname, farn, dict(all_tags), {
        "functionName": fname, "functionArn": farn, "runtime": "python3.12", "role": role,
        "handler": "sync.handler", "timeout": 120, "memorySize": 256,
        "lastModified": "2026-11-19T23:48:02.000+0000", "codeSha256": code_hash,
        "environment": {"variables": {"DB_PASSWORD": LEGACY_LIVE_ENV_PASSWORD, "LOG_LEVEL": "info"}},
        "packageType": "Zip", "architectures": ["x86_64"],
    }, {})
    return st, live


# =========================================================================== bad inputs

def bad_fixtures():
    small = State("st-marys-ehr/prod/bad-input", 3)
    bucket = f"stmarys-ehr-prod-scratch-{ACCOUNT}"
    own, all_tags = tagset(bucket)
    small.add("aws_s3_bucket", "scratch", {
        "arn": f"arn:aws:s3:::{bucket}", "bucket": bucket, "id": bucket,
        "bucket_domain_name": f"{bucket}.s3.amazonaws.com", "force_destroy": False,
        "object_lock_enabled": False, "tags": own, "tags_all": all_tags})
    small.add("aws_s3_bucket_versioning", "scratch", {
        "bucket": bucket, "expected_bucket_owner": "", "id": bucket, "mfa": None,
        "versioning_configuration": [{"mfa_delete": "", "status": "Enabled"}]},
        deps=["aws_s3_bucket.scratch"])
    full = small.to_json()
    # cut inside the second resource, in the middle of a string value
    cut = full.index('"versioning_configuration"') + 12
    truncated = full[:cut]

    malformed = "\n".join([
        "{",
        '  "version": 4,',
        '  "terraform_version": "1.11.4",',
        '  "serial": 3,',
        f'  "lineage": "{uuid_for("lineage:malformed")}" "outputs": {{}},',  # line 5: missing comma
        '  "resources": [],',
        '  "check_results": null',
        "}",
        "",
    ])

    legacy = "stmarys-legacy-archive"
    v3 = {
        "version": 3,
        "terraform_version": "0.11.14",
        "serial": 7,
        "lineage": uuid_for("lineage:v3"),
        "modules": [{
            "path": ["root"],
            "outputs": {"archive_bucket": {"sensitive": False, "type": "string", "value": legacy}},
            "resources": {
                "aws_s3_bucket.archive": {
                    "type": "aws_s3_bucket",
                    "depends_on": [],
                    "primary": {
                        "id": legacy,
                        "attributes": {
                            "acceleration_status": "", "acl": "private",
                            "arn": f"arn:aws:s3:::{legacy}", "bucket": legacy,
                            "bucket_domain_name": f"{legacy}.s3.amazonaws.com",
                            "force_destroy": "false", "hosted_zone_id": "Z3AQBSTGFYJSTF",
                            "id": legacy, "region": REGION, "request_payer": "BucketOwner",
                            "server_side_encryption_configuration.#": "1",
                            "server_side_encryption_configuration.0.rule.#": "1",
                            "server_side_encryption_configuration.0.rule.0.apply_server_side_encryption_by_default.#": "1",
                            "server_side_encryption_configuration.0.rule.0.apply_server_side_encryption_by_default.0.kms_master_key_id": "",
                            "server_side_encryption_configuration.0.rule.0.apply_server_side_encryption_by_default.0.sse_algorithm": "AES256",
                            "tags.%": "2", "tags.Name": legacy, "tags.Environment": "prod",
                            "versioning.#": "1", "versioning.0.enabled": "true",
                            "versioning.0.mfa_delete": "false",
                        },
                        "meta": {},
                        "tainted": False,
                    },
                    "deposed": [],
                    "provider": "provider.aws",
                },
                "aws_kms_key.archive": {
                    "type": "aws_kms_key",
                    "depends_on": [],
                    "primary": {
                        "id": uuid_for("kms:legacy-archive"),
                        "attributes": {
                            "arn": kms_arn(uuid_for("kms:legacy-archive")),
                            "deletion_window_in_days": "30", "description": "legacy archive",
                            "enable_key_rotation": "true", "id": uuid_for("kms:legacy-archive"),
                            "is_enabled": "true", "key_id": uuid_for("kms:legacy-archive"),
                            "key_usage": "ENCRYPT_DECRYPT", "tags.%": "0",
                        },
                        "meta": {},
                        "tainted": False,
                    },
                    "deposed": [],
                    "provider": "provider.aws",
                },
            },
            "depends_on": [],
        }],
    }

    flat = {
        "version": 4,
        "terraform_version": "0.13.7",
        "serial": 2,
        "lineage": uuid_for("lineage:flat"),
        "outputs": {},
        "resources": [{
            "mode": "managed",
            "type": "aws_s3_bucket",
            "name": "legacy",
            "provider": PROVIDER,
            "instances": [{"schema_version": 0, "attributes_flat": {"id": "x", "bucket": "y"}}],
        }],
    }
    return {
        "truncated.tfstate": truncated,
        "malformed.tfstate": malformed,
        "v3.tfstate": json.dumps(v3, indent=4) + "\n",
        "empty.tfstate": "",
        "flat.tfstate": json.dumps(flat, indent=2) + "\n",
    }


# =========================================================================== main

def write(rel, text):
    path = os.path.join(SAMPLES, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(text)
    return rel


def main():
    written = []
    states, live = build_estate()
    for name, st in states.items():
        written.append(write(f"states/{name}.tfstate", st.to_json()))
    written.append(write("live/config-snapshot.json", live.to_json("st-marys-ehr-prod")))

    sst, slive = build_sensitive()
    written.append(write("sensitive/secret.tfstate", sst.to_json()))
    written.append(write("sensitive/live.json", slive.to_json("st-marys-ehr-legacy-billing")))

    for name, text in bad_fixtures().items():
        written.append(write(f"bad/{name}", text))

    print("wrote:")
    for w in written:
        print("  samples/" + w)
    if "--no-check" not in sys.argv:
        check = os.path.join(os.path.dirname(os.path.abspath(__file__)), "check_samples.py")
        sys.exit(subprocess.call([sys.executable, check]))


if __name__ == "__main__":
    main()
