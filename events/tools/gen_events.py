#!/usr/bin/env python3
"""Write every events/<function>/<case>/ payload (Python 3, stdlib only, deterministic).

    python3 events/tools/gen_events.py

Each payload is shaped after a published example, noted in SOURCES below and in
events/README.md; the identities, names and ids are the St Mary's EHR estate of samples/
(account 123456789012, us-east-1). Configuration items are taken from
samples/live/config-snapshot.json; state versions are cut from samples/states/network.tfstate.
"""

import copy
import hashlib
import json
import os
import shutil
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EVENTS = os.path.join(ROOT, "events")
ACCT = "123456789012"
REGION = "us-east-1"
STATE_BUCKET = "stmarys-ehr-tfstate"
LOCK_TABLE = "stmarys-terraform-locks"
LOCK_STREAM = f"arn:aws:dynamodb:{REGION}:{ACCT}:table/{LOCK_TABLE}/stream/2025-06-02T08:14:11.902"
DAY = "2026-11-20"

# Sources of the shapes (see README.md).
SOURCES = {
    "eventbridge-cloudtrail": "aws_lambda_events fixture example-cloudwatch-cloudtrail-assumed-role.json (awslabs/aws-lambda-rust-runtime) inside the EventBridge envelope of the EventBridge User Guide (eb-events)",
    "cloudtrail-kms": "AWS KMS Developer Guide, ct-disable-key-rotation / ct-schedule-key-deletion",
    "cloudtrail-s3-data": "Amazon S3 User Guide, cloudtrail-logging-understanding-s3-entries",
    "cloudtrail-dynamodb-data": "Amazon DynamoDB Developer Guide, understanding-ddb-log-entries (PutItem; UpdateItem with ConditionalCheckFailedException)",
    "cloudtrail-log-file": "AWS CloudTrail User Guide, cloudtrail-log-file-examples",
    "config-change": "AWS Config Developer Guide, example-sns-notification / monitor-config-with-cloudwatchevents (EventBridge envelope); items from samples/live",
    "config-oversized": "AWS Config Developer Guide, oversized-notification-example",
    "s3-eventbridge": "Powertools for AWS Lambda (Python) fixture s3EventBridgeNotificationObjectCreatedEvent.json / ...ObjectDeletedEvent.json; Amazon S3 User Guide ev-events",
    "s3-notification": "aws_lambda_events fixture example-s3-event.json; Amazon S3 User Guide notification-content-structure",
    "dynamodb-stream": "aws_lambda_events fixture example-dynamodb-event.json; DynamoDB Developer Guide Streams.Lambda.Tutorial2 and time-to-live-ttl-streams",
    "schedule": "aws_lambda_events fixture example-eventbridge-schedule.json",
    "lock-info": "Terraform's lock info JSON as in .terraform.tfstate.lock.info files (hashicorp/terraform internal/states/statemgr/locker.go LockInfo)",
}


def uid(*parts):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "driftwatch/events/" + "/".join(parts)))


def hexid(*parts, n=32):
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:n]


def epoch(ts):
    import datetime

    return int(datetime.datetime.strptime(ts, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc).timestamp())


# ---------------------------------------------------------------- principals

TF_UA = "APN/1.0 HashiCorp/1.0 Terraform/1.11.4 (+https://www.terraform.io) terraform-provider-aws/5.80.0 (+https://registry.terraform.io/providers/hashicorp/aws) aws-sdk-go-v2/1.32.6 ua/2.1 os/linux lang/go#1.23.3 md/GOOS#linux md/GOARCH#amd64 api/{api}"
CLI_UA = "aws-cli/2.17.20 md/awscrt#0.20.11 ua/2.0 os/macos#23.5.0 md/arch#arm64 lang/python#3.11.9 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off md/command#{cmd}"


def pipeline(api="s3"):
    return {
        "identity": {
            "type": "AssumedRole",
            "principalId": "AROAR7E5CI0PIPELINE01:GitHubActions",
            "arn": f"arn:aws:sts::{ACCT}:assumed-role/terraform-ci/GitHubActions",
            "accountId": ACCT,
            "accessKeyId": "ASIAR7E5CIEXAMPLE001",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAR7E5CI0PIPELINE01", "arn": f"arn:aws:iam::{ACCT}:role/terraform-ci", "accountId": ACCT, "userName": "terraform-ci"},
                "webIdFederationData": {"federatedProvider": f"arn:aws:iam::{ACCT}:oidc-provider/token.actions.githubusercontent.com", "attributes": {}},
                "attributes": {"creationDate": f"{DAY}T08:58:40Z", "mfaAuthenticated": "false"},
            },
        },
        "ip": "20.42.10.5",
        "ua": TF_UA.format(api=api),
    }


def console():
    sso = "AWSReservedSSO_AWSAdministratorAccess_5f2b0e7d1c9a3b48"
    return {
        "identity": {
            "type": "AssumedRole",
            "principalId": "AROAR7E5SSOADMIN0001:jane.doe@stmarys.org",
            "arn": f"arn:aws:sts::{ACCT}:assumed-role/{sso}/jane.doe@stmarys.org",
            "accountId": ACCT,
            "accessKeyId": "ASIAR7E5CONSOLEEX001",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAR7E5SSOADMIN0001", "arn": f"arn:aws:iam::{ACCT}:role/aws-reserved/sso.amazonaws.com/{sso}", "accountId": ACCT, "userName": sso},
                "webIdFederationData": {},
                "attributes": {"creationDate": f"{DAY}T09:02:11Z", "mfaAuthenticated": "false"},
            },
        },
        "ip": "198.51.100.23",
        "ua": "AWS Internal",
        "console": True,
    }


def human_cli(cmd):
    return {
        "identity": {
            "type": "AssumedRole",
            "principalId": "AROAR7E5PLATADMIN001:raj.patel",
            "arn": f"arn:aws:sts::{ACCT}:assumed-role/PlatformAdmin/raj.patel",
            "accountId": ACCT,
            "accessKeyId": "ASIAR7E5CLIEXAMPLE01",
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAR7E5PLATADMIN001", "arn": f"arn:aws:iam::{ACCT}:role/PlatformAdmin", "accountId": ACCT, "userName": "PlatformAdmin"},
                "webIdFederationData": {},
                "attributes": {"creationDate": f"{DAY}T08:41:07Z", "mfaAuthenticated": "true"},
            },
        },
        "ip": "203.0.113.77",
        "ua": CLI_UA.format(cmd=cmd),
    }


def human_terraform():
    """A person running terraform from a laptop with their own credentials."""
    p = human_cli("")
    p["ua"] = TF_UA.format(api="dynamodb")
    return p


# ---------------------------------------------------------------- CloudTrail

def ct(name, source, who, time, params, response=None, resources=None, error=None, read_only=False, data=False, extra=None):
    rec = {
        "eventVersion": "1.10",
        "userIdentity": copy.deepcopy(who["identity"]),
        "eventTime": time,
        "eventSource": source,
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": who["ip"],
        "userAgent": who["ua"],
    }
    if error:
        rec["errorCode"], rec["errorMessage"] = error
    rec["requestParameters"] = params
    rec["responseElements"] = response
    if extra:
        rec["additionalEventData"] = extra
    rec["requestID"] = hexid(name, time, "req", n=16).upper()
    rec["eventID"] = uid(name, time, source, json.dumps(params, sort_keys=True))
    rec["readOnly"] = read_only
    if resources:
        rec["resources"] = resources
    rec["eventType"] = "AwsApiCall"
    rec["managementEvent"] = not data
    rec["recipientAccountId"] = ACCT
    rec["eventCategory"] = "Data" if data else "Management"
    if data:
        rec["tlsDetails"] = {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": f"{STATE_BUCKET}.s3.{REGION}.amazonaws.com"}
    if who.get("console"):
        rec["sessionCredentialFromConsole"] = "true"
    return rec


def eb_cloudtrail(rec):
    service = rec["eventSource"].split(".")[0]
    return {
        "version": "0",
        "id": uid("eb", rec["eventID"]),
        "detail-type": "AWS API Call via CloudTrail",
        "source": f"aws.{service}",
        "account": ACCT,
        "time": rec["eventTime"],
        "region": REGION,
        "resources": [],
        "detail": rec,
    }


def res(kind, arn):
    return [{"accountId": ACCT, "type": kind, "ARN": arn}]


# ---------------------------------------------------------------- locks

def lock_info(state_key, op, who, created, lock_id):
    return {"ID": lock_id, "Operation": op, "Info": "", "Who": who, "Version": "1.11.4", "Created": created, "Path": f"{STATE_BUCKET}/{state_key}"}


def stream_record(event, lock_id, time, seq, new=None, old=None, ttl=False):
    ddb = {"ApproximateCreationDateTime": epoch(time), "Keys": {"LockID": {"S": lock_id}}}
    if new is not None:
        ddb["NewImage"] = new
    if old is not None:
        ddb["OldImage"] = old
    ddb["SequenceNumber"] = str(1_000_000_000_000_000_000 + seq)
    ddb["SizeBytes"] = 120 + len(json.dumps(new or old or {}))
    ddb["StreamViewType"] = "NEW_AND_OLD_IMAGES"
    rec = {"eventID": hexid("ddb", lock_id, time, event), "eventName": event, "eventVersion": "1.1", "eventSource": "aws:dynamodb", "awsRegion": REGION, "dynamodb": ddb, "eventSourceARN": LOCK_STREAM}
    if ttl:
        rec["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return rec


def lock_image(lock_id, info):
    return {"LockID": {"S": lock_id}, "Info": {"S": json.dumps(info, separators=(",", ":"))}}


def digest_image(lock_id, digest):
    return {"LockID": {"S": lock_id + "-md5"}, "Digest": {"S": digest}}


def ddb_batch(*records):
    return {"Records": list(records)}


# ---------------------------------------------------------------- S3 / EventBridge

def eb_s3(detail_type, key, time, version, size=None, etag=None, requester=ACCT, reason="PutObject", ip="20.42.10.5"):
    obj = {"key": key}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["etag"] = etag
    obj["version-id"] = version
    obj["sequencer"] = hexid("seq", key, version, n=18).upper()
    detail = {"version": "0", "bucket": {"name": STATE_BUCKET}, "object": obj, "request-id": hexid("rid", key, version, n=16).upper(), "requester": requester, "source-ip-address": ip, "reason": reason}
    if detail_type == "Object Deleted":
        detail["deletion-type"] = "Permanently Deleted"
    return {"version": "0", "id": uid("s3", key, version, detail_type), "detail-type": detail_type, "source": "aws.s3", "account": ACCT, "time": time, "region": REGION, "resources": [f"arn:aws:s3:::{STATE_BUCKET}"], "detail": detail}


def s3_notification(name, key, time, version, size=None, etag=None, principal="AWS:AROAR7E5CI0PIPELINE01:GitHubActions"):
    import urllib.parse

    obj = {"key": urllib.parse.quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag
    obj["versionId"] = version
    obj["sequencer"] = hexid("seq", key, version, n=18).upper()
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": REGION,
        "eventTime": time[:-1] + ".000Z",
        "eventName": name,
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": "20.42.10.5"},
        "responseElements": {"x-amz-request-id": hexid("rid", key, version, n=16).upper(), "x-amz-id-2": hexid("id2", key, version, n=64)},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "driftwatch-tflock",
            "bucket": {"name": STATE_BUCKET, "ownerIdentity": {"principalId": "A3NL1KOZZKExample"}, "arn": f"arn:aws:s3:::{STATE_BUCKET}"},
            "object": obj,
        },
    }


def schedule(time, rule="driftwatch-sweeper"):
    return {"version": "0", "id": uid("tick", time), "detail-type": "Scheduled Event", "source": "aws.events", "account": ACCT, "time": time, "region": REGION,
            "resources": [f"arn:aws:events:{REGION}:{ACCT}:rule/{rule}"], "detail": {}}


# ---------------------------------------------------------------- Config

SNAPSHOT = json.load(open(os.path.join(ROOT, "samples/live/config-snapshot.json")))


def item(resource_id):
    for it in SNAPSHOT["configurationItems"]:
        if it["resourceId"] == resource_id:
            return copy.deepcopy(it)
    raise KeyError(resource_id)


def eb_config(ci, diff, time, change_type="UPDATE"):
    detail = {
        "recordVersion": "1.3",
        "messageType": "ConfigurationItemChangeNotification",
        "configurationItemDiff": {"changedProperties": diff, "changeType": change_type},
        "notificationCreationTime": time[:-1] + ".412Z",
        "configurationItem": ci,
    }
    return {"version": "0", "id": uid("cfg", ci["resourceId"], time), "detail-type": "Config Configuration Item Change", "source": "aws.config", "account": ACCT, "time": time,
            "region": REGION, "resources": [ci["ARN"]] if ci.get("ARN") else [], "detail": detail}


# ---------------------------------------------------------------- state versions

NETWORK = json.load(open(os.path.join(ROOT, "samples/states/network.tfstate")))


def network_version(serial, lineage=None, tweak=None):
    """The security groups and log groups of samples/states/network.tfstate as the S3 backend
    holds them at prod/network.tfstate (a cut of the sample, to keep the files small)."""
    st = copy.deepcopy(NETWORK)
    st["serial"] = serial
    if lineage:
        st["lineage"] = lineage
    st["outputs"] = {}
    st["resources"] = [r for r in st["resources"] if r["type"] in ("aws_security_group", "aws_cloudwatch_log_group")]
    if tweak:
        tweak(st)
    return (json.dumps(st, indent=2) + "\n").encode()


def retag(st):
    for r in st["resources"]:
        if r["type"] == "aws_cloudwatch_log_group" and r["name"] == "vpc_flow_logs":
            r["instances"][0]["attributes"]["retention_in_days"] = 731


# ---------------------------------------------------------------- writing

CASES = []


def case(function, name, what, rules, files, expected):
    CASES.append((function, name, what, rules))
    d = os.path.join(EVENTS, function, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d, exist_ok=True)
    for fname, content in files.items():
        path = os.path.join(d, fname)
        if isinstance(content, bytes):
            open(path, "wb").write(content)
        else:
            open(path, "w").write(json.dumps(content, indent=2) + "\n")
    exp = [{"rule": r, "resource": res_} for r, res_ in expected]
    open(os.path.join(d, "expected.json"), "w").write(json.dumps(exp, indent=2) + "\n")


def state_res(key):
    return f"driftwatch::TerraformState s3://{STATE_BUCKET}/{key}"


SG_APP = "sg-0b553a59028de3b25"
IMAGING_BUCKET = f"stmarys-ehr-prod-phi-imaging-{ACCT}"
LAB_BUCKET = f"stmarys-ehr-prod-phi-lab-results-{ACCT}"
IMAGING_KEY = "319d1c27-3eb0-4d5d-8b8d-55a374513c3d"
RDS_KEY = "dacde81c-2e3a-4b21-b490-11d246bfb5c8"
TRAIL = "st-marys-ehr-prod-trail"
LISTENER = f"arn:aws:elasticloadbalancing:{REGION}:{ACCT}:listener/app/ehr-public-alb/9954fcbaaf84b2a4/4b2681e8cc63b647"
SSE_FACET = 'module.phi_storage["{}"].module.bucket.aws_s3_bucket_server_side_encryption_configuration.this'


def sg_ingress(who, time, error=None, read_only=False, port=22, description="temp vendor support"):
    params = {
        "groupId": SG_APP,
        "ipPermissions": {"items": [{"ipProtocol": "tcp", "fromPort": port, "toPort": port, "groups": {}, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0", "description": description}]}, "ipv6Ranges": {}, "prefixListIds": {}}]},
    }
    response = None if error else {"requestId": uid("resp", time), "_return": True, "securityGroupRuleSet": {"items": [{"groupOwnerId": ACCT, "groupId": SG_APP, "securityGroupRuleId": "sgr-0f3e2d1c0b9a87654", "isEgress": False, "ipProtocol": "tcp", "fromPort": 22, "toPort": 22, "cidrIpv4": "0.0.0.0/0", "description": "temp vendor support"}]}}
    return ct("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", who, time, params, response, error=error, read_only=read_only)


def trail_watcher():
    f = "trail-watcher"
    case(f, "console-edit", "a person opens SSH to the world on the app security group in the console", ["change.console", "control.network_exposure"],
         {"event.json": eb_cloudtrail(sg_ingress(console(), f"{DAY}T09:14:02Z"))},
         [("change.console", "aws_security_group.app"), ("control.network_exposure", "aws_security_group.app")])
    case(f, "out-of-band-cli", "an engineer changes the HL7 queue's visibility timeout with the AWS CLI", ["change.out_of_band"],
         {"event.json": eb_cloudtrail(ct("SetQueueAttributes", "sqs.amazonaws.com", human_cli("sqs.set-queue-attributes"), f"{DAY}T09:21:40Z",
                                         {"queueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCT}/ehr-prod-hl7-inbound", "attributes": {"VisibilityTimeout": "900"}}))},
         [("change.out_of_band", "aws_sqs_queue.hl7_inbound")])
    case(f, "unmanaged-create", "a bucket created by hand, outside the pipeline", ["drift.unmanaged"],
         {"event.json": eb_cloudtrail(ct("CreateBucket", "s3.amazonaws.com", human_cli("s3api.create-bucket"), f"{DAY}T09:30:12Z",
                                         {"bucketName": "stmarys-ehr-adhoc-export-20261120", "Host": "stmarys-ehr-adhoc-export-20261120.s3.amazonaws.com", "x-amz-acl": "private"},
                                         None, res("AWS::S3::Bucket", "arn:aws:s3:::stmarys-ehr-adhoc-export-20261120")))},
         [("drift.unmanaged", "AWS::S3::Bucket stmarys-ehr-adhoc-export-20261120")])

    # encryption regressions (each also a change outside the pipeline on a managed resource)
    case(f, "encryption-delete-bucket-encryption", "default encryption removed from the PHI imaging bucket", ["encryption.regression", "change.out_of_band"],
         {"event.json": eb_cloudtrail(ct("DeleteBucketEncryption", "s3.amazonaws.com", human_cli("s3api.delete-bucket-encryption"), f"{DAY}T09:40:00Z",
                                         {"bucketName": IMAGING_BUCKET, "Host": f"{IMAGING_BUCKET}.s3.amazonaws.com", "encryption": ""}, None,
                                         res("AWS::S3::Bucket", f"arn:aws:s3:::{IMAGING_BUCKET}")))},
         [("encryption.regression", SSE_FACET.format("imaging")), ("change.out_of_band", SSE_FACET.format("imaging"))])
    case(f, "encryption-put-bucket-encryption-aes256", "lab-results bucket switched from aws:kms to AES256 in the console", ["encryption.regression", "change.console"],
         {"event.json": eb_cloudtrail(ct("PutBucketEncryption", "s3.amazonaws.com", console(), f"{DAY}T09:41:30Z",
                                         {"bucketName": LAB_BUCKET, "Host": f"{LAB_BUCKET}.s3.amazonaws.com", "encryption": "",
                                          "ServerSideEncryptionConfiguration": {"xmlns": "http://s3.amazonaws.com/doc/2006-03-01/",
                                                                                "Rule": {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": False}}},
                                         None, res("AWS::S3::Bucket", f"arn:aws:s3:::{LAB_BUCKET}")))},
         [("encryption.regression", SSE_FACET.format("lab-results")), ("change.console", SSE_FACET.format("lab-results"))])
    key_arn = f"arn:aws:kms:{REGION}:{ACCT}:key/{IMAGING_KEY}"
    case(f, "encryption-kms-disable-key-rotation", "rotation turned off on the imaging PHI key", ["encryption.regression", "change.out_of_band"],
         {"event.json": eb_cloudtrail(ct("DisableKeyRotation", "kms.amazonaws.com", human_cli("kms.disable-key-rotation"), f"{DAY}T09:45:10Z",
                                         {"keyId": key_arn}, None, res("AWS::KMS::Key", key_arn)))},
         [("encryption.regression", 'module.phi_storage["imaging"].aws_kms_key.this'), ("change.out_of_band", 'module.phi_storage["imaging"].aws_kms_key.this')])
    rds_arn = f"arn:aws:kms:{REGION}:{ACCT}:key/{RDS_KEY}"
    case(f, "encryption-kms-schedule-key-deletion", "the RDS key scheduled for deletion", ["encryption.regression", "change.out_of_band"],
         {"event.json": eb_cloudtrail(ct("ScheduleKeyDeletion", "kms.amazonaws.com", human_cli("kms.schedule-key-deletion"), f"{DAY}T09:46:00Z",
                                         {"keyId": RDS_KEY, "pendingWindowInDays": 7},
                                         {"keyId": rds_arn, "deletionDate": "Nov 27, 2026, 12:00:00 AM", "keyState": "PendingDeletion", "pendingWindowInDays": 7},
                                         res("AWS::KMS::Key", rds_arn)))},
         [("encryption.regression", "aws_kms_key.rds"), ("change.out_of_band", "aws_kms_key.rds")])
    vol = "vol-0e6f1c2d3b4a59687"
    case(f, "encryption-ebs-create-volume-unencrypted", "an unencrypted volume created by hand", ["encryption.regression", "drift.unmanaged"],
         {"event.json": eb_cloudtrail(ct("CreateVolume", "ec2.amazonaws.com", human_cli("ec2.create-volume"), f"{DAY}T09:50:00Z",
                                         {"size": 500, "zone": "us-east-1a", "volumeType": "gp3", "encrypted": False,
                                          "tagSpecificationSet": {"items": [{"resourceType": "volume", "tags": [{"key": "Name", "value": "pacs-scratch"}]}]}},
                                         {"requestId": uid("cv"), "volumeId": vol, "size": "500", "zone": "us-east-1a", "status": "creating", "createTime": 1795168200000,
                                          "volumeType": "gp3", "iops": 3000, "encrypted": False, "multiAttachEnabled": False, "throughput": 125}))},
         [("encryption.regression", f"AWS::EC2::Volume {vol}"), ("drift.unmanaged", f"AWS::EC2::Volume {vol}")])
    trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCT}:trail/{TRAIL}"
    case(f, "control-audit-stop-logging-managed-trail", "the organisation trail stopped", ["control.audit_weakened", "change.out_of_band"],
         {"event.json": eb_cloudtrail(ct("StopLogging", "cloudtrail.amazonaws.com", human_cli("cloudtrail.stop-logging"), f"{DAY}T09:52:00Z",
                                         {"name": trail_arn}, None, res("AWS::CloudTrail::Trail", trail_arn)))},
         [("control.audit_weakened", "aws_cloudtrail.main"), ("change.out_of_band", "aws_cloudtrail.main")])
    case(f, "encryption-elb-listener-http", "the public HTTPS listener moved to plain HTTP", ["encryption.regression", "change.console"],
         {"event.json": eb_cloudtrail(ct("ModifyListener", "elasticloadbalancing.amazonaws.com", console(), f"{DAY}T09:55:00Z",
                                         {"listenerArn": LISTENER, "port": 80, "protocol": "HTTP"},
                                         {"listeners": [{"listenerArn": LISTENER, "loadBalancerArn": LISTENER.replace(":listener/", ":loadbalancer/").rsplit("/", 1)[0], "port": 80, "protocol": "HTTP",
                                                         "defaultActions": [{"type": "forward", "targetGroupArn": f"arn:aws:elasticloadbalancing:{REGION}:{ACCT}:targetgroup/ehr-fhir-api/6d0ecf831eec9f09"}]}]}))},
         [("encryption.regression", "aws_lb_listener.https"), ("change.console", "aws_lb_listener.https")])

    # locks and state on the backend
    data_lock = f"{STATE_BUCKET}/prod/data.tfstate"
    holder = lock_info("prod/data.tfstate", "OperationTypeApply", "runner@fv-az1134-281", f"{DAY}T10:00:01.204871311Z", "4b9e2c1a-7f30-6d5e-8a41-0c2f9d7e3b16")
    case(f, "lock-contention-dynamodb", "a second apply fails to take the lock table item the pipeline holds", ["lock.contention"],
         {"00-given-lock-held.json": ddb_batch(stream_record("INSERT", data_lock, f"{DAY}T10:00:01Z", 1, new=lock_image(data_lock, holder))),
          "event.json": eb_cloudtrail(ct("PutItem", "dynamodb.amazonaws.com", human_terraform(), f"{DAY}T10:03:17Z",
                                         {"tableName": LOCK_TABLE, "key": {"LockID": data_lock}, "item": ["LockID", "Info"], "conditionExpression": "attribute_not_exists(LockID)"},
                                         None, res("AWS::DynamoDB::Table", f"arn:aws:dynamodb:{REGION}:{ACCT}:table/{LOCK_TABLE}"),
                                         error=("ConditionalCheckFailedException", "The conditional request failed"), data=True))},
         [("lock.contention", state_res("prod/data.tfstate"))])
    app_lock = f"{STATE_BUCKET}/prod/app.tfstate"
    case(f, "lock-contention-tflock-412", "a second run's conditional PutObject of the .tflock file fails with 412", ["lock.contention"],
         {"event.json": eb_cloudtrail(ct("PutObject", "s3.amazonaws.com", human_terraform(), f"{DAY}T10:05:42Z",
                                         {"bucketName": STATE_BUCKET, "Host": f"{STATE_BUCKET}.s3.{REGION}.amazonaws.com", "key": "prod/app.tfstate.tflock", "If-None-Match": "*"},
                                         None, res("AWS::S3::Object", f"arn:aws:s3:::{STATE_BUCKET}/prod/app.tfstate.tflock") + res("AWS::S3::Bucket", f"arn:aws:s3:::{STATE_BUCKET}"),
                                         error=("PreconditionFailed", "At least one of the pre-conditions you specified did not hold"), data=True,
                                         extra={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 214.0, "AuthenticationMethod": "AuthHeader", "x-amz-id-2": hexid("x", n=60), "bytesTransferredOut": 298.0}))},
         [("lock.contention", state_res("prod/app.tfstate"))])
    net_lock = f"{STATE_BUCKET}/prod/network.tfstate"
    table_res = res("AWS::DynamoDB::Table", f"arn:aws:dynamodb:{REGION}:{ACCT}:table/{LOCK_TABLE}")
    case(f, "lock-force-unlock", "an engineer deletes the lock item the pipeline's apply holds", ["lock.force_unlock"],
         {"00-given-pipeline-acquires.json": eb_cloudtrail(ct("PutItem", "dynamodb.amazonaws.com", pipeline("dynamodb"), f"{DAY}T10:10:00Z",
                                                              {"tableName": LOCK_TABLE, "key": {"LockID": net_lock}, "item": ["LockID", "Info"], "conditionExpression": "attribute_not_exists(LockID)"},
                                                              None, table_res, data=True)),
          "event.json": eb_cloudtrail(ct("DeleteItem", "dynamodb.amazonaws.com", human_cli("dynamodb.delete-item"), f"{DAY}T10:12:30Z",
                                         {"tableName": LOCK_TABLE, "key": {"LockID": net_lock}}, None, table_res, data=True))},
         [("lock.force_unlock", state_res("prod/network.tfstate"))])
    case(f, "lock-outside-pipeline", "an engineer runs terraform apply from a laptop: the lock is taken outside the pipeline", ["lock.outside_pipeline"],
         {"event.json": eb_cloudtrail(ct("PutItem", "dynamodb.amazonaws.com", human_terraform(), f"{DAY}T10:20:00Z",
                                         {"tableName": LOCK_TABLE, "key": {"LockID": net_lock}, "item": ["LockID", "Info"], "conditionExpression": "attribute_not_exists(LockID)"},
                                         None, table_res, data=True))},
         [("lock.outside_pipeline", state_res("prod/network.tfstate"))])
    case(f, "state-written-outside-pipeline", "an engineer uploads a state file by hand (aws s3 cp)", ["state.written_outside_pipeline"],
         {"event.json": eb_cloudtrail(ct("PutObject", "s3.amazonaws.com", human_cli("s3.cp"), f"{DAY}T10:25:00Z",
                                         {"bucketName": STATE_BUCKET, "Host": f"{STATE_BUCKET}.s3.{REGION}.amazonaws.com", "key": "prod/network.tfstate", "x-amz-server-side-encryption": "aws:kms"},
                                         {"x-amz-server-side-encryption": "aws:kms", "x-amz-version-id": "3sL4kqtJlcpXroDTDmJ.rmSpXd3dIbrHY", "ETag": "2f1d86a7f5b4d7e3c9a1b0e8d6c4a2f0"},
                                         res("AWS::S3::Object", f"arn:aws:s3:::{STATE_BUCKET}/prod/network.tfstate") + res("AWS::S3::Bucket", f"arn:aws:s3:::{STATE_BUCKET}"), data=True,
                                         extra={"SignatureVersion": "SigV4", "CipherSuite": "TLS_AES_128_GCM_SHA256", "bytesTransferredIn": 55851.0, "AuthenticationMethod": "AuthHeader", "x-amz-id-2": hexid("y", n=60), "bytesTransferredOut": 0.0}))},
         [("state.written_outside_pipeline", state_res("prod/network.tfstate"))])

    # a CloudTrail log file with one corrupt record among good ones
    good = [
        ct("DescribeSecurityGroups", "ec2.amazonaws.com", human_cli("ec2.describe-security-groups"), f"{DAY}T09:00:03Z", {"securityGroupIdSet": {"items": [{"groupId": SG_APP}]}}, None, read_only=True),
        ct("PutBucketTagging", "s3.amazonaws.com", pipeline("s3"), f"{DAY}T09:00:09Z", {"bucketName": IMAGING_BUCKET, "Host": f"{IMAGING_BUCKET}.s3.amazonaws.com", "tagging": "", "Tagging": {"TagSet": {"Tag": [{"Key": "Name", "Value": "ehr-prod-phi-imaging"}]}}}),
        ct("GetBucketEncryption", "s3.amazonaws.com", pipeline("s3"), f"{DAY}T09:00:10Z", {"bucketName": IMAGING_BUCKET, "Host": f"{IMAGING_BUCKET}.s3.amazonaws.com", "encryption": ""}, None, read_only=True),
    ]
    corrupt = ct("AuthorizeSecurityGroupIngress", "ec2.amazonaws.com", human_cli("ec2.authorize-security-group-ingress"), f"{DAY}T09:00:12Z", {"groupId": SG_APP})
    corrupt["eventTime"] = "2026-11-20T09:00:1"  # truncated by a broken forwarder
    corrupt["userIdentity"] = "AROAR7E5PLATADMIN001:raj.patel"
    after = [
        ct("UpdateTrail", "cloudtrail.amazonaws.com", pipeline("cloudtrail"), f"{DAY}T09:00:20Z", {"name": TRAIL, "enableLogFileValidation": True, "kmsKeyId": f"arn:aws:kms:{REGION}:{ACCT}:key/a40ff9ea-7566-488c-8da2-f698e2c87d9c"}),
        ct("DescribeKey", "kms.amazonaws.com", pipeline("kms"), f"{DAY}T09:00:21Z", {"keyId": IMAGING_KEY}, None, read_only=True),
    ]
    case(f, "input-invalid-log-file", "a CloudTrail log file whose 4th record (index 3) is corrupt; the other five are read (three read-only, two pipeline writes)", ["input.invalid"],
         {"event.json": {"Records": good + [corrupt] + after}},
         [("input.invalid", "driftwatch::Input events/trail-watcher/input-invalid-log-file/event.json")])

    # negatives: the same change, read-only / by the pipeline / failed
    case(f, "negative-read-only", "a console user looks at the app security group", [],
         {"event.json": eb_cloudtrail(ct("DescribeSecurityGroups", "ec2.amazonaws.com", console(), f"{DAY}T09:13:40Z", {"securityGroupIdSet": {"items": [{"groupId": SG_APP}]}, "filterSet": {}}, None, read_only=True))},
         [])
    case(f, "negative-pipeline-change", "the pipeline opens HTTPS on the app security group (an apply)", [],
         {"event.json": eb_cloudtrail(sg_ingress(pipeline("ec2"), f"{DAY}T09:14:02Z", port=443, description="public HTTPS"))}, [])
    case(f, "control-network-pipeline-opens-ssh", "the pipeline opens SSH to the world: a weakened safeguard, whoever makes it", ["control.network_exposure"],
         {"event.json": eb_cloudtrail(sg_ingress(pipeline("ec2"), f"{DAY}T09:14:02Z"))},
         [("control.network_exposure", "aws_security_group.app")])
    case(f, "negative-failed-call", "the same change by a person, denied", [],
         {"event.json": eb_cloudtrail(sg_ingress(console(), f"{DAY}T09:14:02Z", error=("Client.UnauthorizedOperation", "You are not authorized to perform this operation.")))}, [])


def config_watcher():
    f = "config-watcher"
    db = item("db-H4ZH2Q6OCA3RAHWW344MRN53HV")  # planted drift e: publiclyAccessible true
    case(f, "drift-changed", "the primary EHR database made publicly accessible", ["drift.changed", "control.public_exposure"],
         {"event.json": eb_config(db, {"Configuration.PubliclyAccessible": {"previousValue": False, "updatedValue": True, "changeType": "UPDATE"}}, f"{DAY}T09:31:05Z")},
         [("drift.changed", "aws_db_instance.ehr_primary"), ("control.public_exposure", "aws_db_instance.ehr_primary")])
    vol = {"relatedEvents": [], "relationships": [], "configuration": None, "supplementaryConfiguration": {}, "tags": {}, "configurationItemVersion": "1.3",
           "configurationItemCaptureTime": f"{DAY}T09:35:44.118Z", "configurationStateId": "1795167344118", "awsAccountId": ACCT, "configurationItemStatus": "ResourceDeleted",
           "resourceType": "AWS::EC2::Volume", "resourceId": "vol-028da75557c266c20", "ARN": f"arn:aws:ec2:{REGION}:{ACCT}:volume/vol-028da75557c266c20",
           "awsRegion": REGION, "availabilityZone": "us-east-1a", "configurationStateMd5Hash": "", "resourceCreationTime": "2025-11-02T14:10:55.000Z"}
    case(f, "drift-missing", "a PACS cache volume deleted by hand", ["drift.missing"],
         {"event.json": eb_config(vol, {}, f"{DAY}T09:35:45Z", change_type="DELETE")},
         [("drift.missing", "aws_ebs_volume.pacs_cache[2]")])
    key = item(IMAGING_KEY)  # planted drift d: rotation off
    case(f, "encryption-regression", "Config records rotation off on the imaging PHI key", ["encryption.regression"],
         {"event.json": eb_config(key, {"Configuration.KeyRotationStatus": {"previousValue": True, "updatedValue": False, "changeType": "UPDATE"}}, f"{DAY}T09:45:40Z")},
         [("encryption.regression", 'module.phi_storage["imaging"].aws_kms_key.this')])
    sg = item("sg-0a5c66cbda00f555b")
    case(f, "negative-no-drift", "a configuration change that matches Terraform (the ALB security group as in state)", [],
         {"event.json": eb_config(sg, {}, f"{DAY}T09:50:00Z")}, [])
    newer = copy.deepcopy(sg)
    newer["configurationStateId"] = "1795168000000"
    older = copy.deepcopy(sg)
    older["configurationStateId"] = "1795160000000"
    older["configuration"]["ipPermissions"].append({"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipv6Ranges": [], "prefixListIds": [], "userIdGroupPairs": [],
                                                   "ipv4Ranges": [{"cidrIp": "0.0.0.0/0"}], "ipRanges": ["0.0.0.0/0"]})
    case(f, "negative-out-of-order", "an older item (with a since-reverted RDP rule) arrives after a newer matching one: ignored by configurationStateId", [],
         {"00-given-newer-item.json": eb_config(newer, {}, f"{DAY}T09:58:00Z"), "event.json": eb_config(older, {}, f"{DAY}T09:58:02Z")}, [])
    oversized = {"version": "0", "id": uid("cfg", "oversized"), "detail-type": "Config Configuration Item Change", "source": "aws.config", "account": ACCT,
                 "time": f"{DAY}T10:02:00Z", "region": REGION, "resources": [f"arn:aws:s3:::{IMAGING_BUCKET}"],
                 "detail": {"configurationItemSummary": {"changeType": "UPDATE", "configurationItemVersion": "1.3", "configurationItemCaptureTime": f"{DAY}T10:01:58.004Z",
                                                         "configurationStateId": 1795168918004, "awsAccountId": ACCT, "configurationItemStatus": "OK", "resourceType": "AWS::S3::Bucket",
                                                         "resourceId": IMAGING_BUCKET, "resourceName": IMAGING_BUCKET, "ARN": f"arn:aws:s3:::{IMAGING_BUCKET}", "awsRegion": REGION,
                                                         "availabilityZone": "Regional", "configurationStateMd5Hash": "", "resourceCreationTime": "2025-10-17T22:15:02.000Z"},
                            "s3DeliverySummary": {"s3BucketLocation": f"stmarys-ehr-config-{ACCT}/AWSLogs/{ACCT}/Config/{REGION}/2026/11/20/OversizedChangeNotification/AWS::S3::Bucket/{IMAGING_BUCKET}/{ACCT}_Config_{REGION}_ChangeNotification_AWS::S3::Bucket_{IMAGING_BUCKET}_20261120T100158Z_1795168918004.json.gz",
                                                  "errorCode": None, "errorMessage": None},
                            "notificationCreationTime": f"{DAY}T10:02:00.113Z", "messageType": "OversizedConfigurationItemChangeNotification", "recordVersion": "1.0"}}
    case(f, "negative-oversized", "an oversized-item notification: recognised, the item is for the adapter to fetch, nothing to report from the summary", [],
         {"event.json": oversized}, [])


def state_watcher():
    f = "state-watcher"
    key = "prod/network.tfstate"
    lock_id = f"{STATE_BUCKET}/{key}"
    lineage = NETWORK["lineage"]
    v1, v2 = network_version(47), network_version(48, tweak=retag)
    md5 = lambda b: hashlib.md5(b).hexdigest()
    info = lock_info(key, "OperationTypeApply", "runner@fv-az1134-281", f"{DAY}T11:00:02.511202014Z", "0d7c5e3b-2a91-4f6e-b8d0-3c1e9a7f5b24")
    V1, V2 = "Wq3Zx1b0c8Ndf5oPq7u9Kx2Ly4Mz6Nb8", "kC4xT9pQ2mR7vB1nZ5wE8yU3iO6aS0dF"
    created = lambda v, b, t: eb_s3("Object Created", key, t, v, size=len(b), etag=md5(b))
    case(f, "apply", "a pipeline apply: lock taken, state written, digest updated, lock released", [],
         {"00-given-previous-write.json": created(V1, v1, f"{DAY}T08:00:30Z"), f"{V1}.tfstate": v1,
          "01-given-lock-acquired.json": ddb_batch(stream_record("INSERT", lock_id, f"{DAY}T11:00:02Z", 10, new=lock_image(lock_id, info))),
          "event.json": created(V2, v2, f"{DAY}T11:03:40Z"), f"{V2}.tfstate": v2,
          "then-digest-and-unlock.json": ddb_batch(stream_record("MODIFY", lock_id + "-md5", f"{DAY}T11:03:41Z", 11, new=digest_image(lock_id, md5(v2)), old=digest_image(lock_id, md5(v1))),
                                                   stream_record("REMOVE", lock_id, f"{DAY}T11:03:42Z", 12, old=lock_image(lock_id, info)))},
         [])
    other = "9c0e6a42-5d1b-4f8e-a3c7-2b6d8e0f1a95"
    v_other = network_version(3, lineage=other)
    V3 = "pL8mN2bV5cX7zA9sD1fG3hJ6kQ4wE0rT"
    case(f, "lineage-changed", "another configuration's state pushed over prod/network.tfstate (new lineage)", ["state.lineage_changed"],
         {"00-given-previous-write.json": created(V1, v1, f"{DAY}T08:00:30Z"), f"{V1}.tfstate": v1,
          "event.json": created(V3, v_other, f"{DAY}T11:20:00Z"), f"{V3}.tfstate": v_other},
         [("state.lineage_changed", state_res(key))])
    v_old = network_version(46)
    V4 = "uY7tR5eW3qA1sD9fG7hJ5kL3zX1cV9bN"
    case(f, "serial-regression", "an older copy of the state (serial 46) written over serial 47", ["state.serial_regression"],
         {"00-given-previous-write.json": created(V1, v1, f"{DAY}T08:00:30Z"), f"{V1}.tfstate": v1,
          "event.json": created(V4, v_old, f"{DAY}T11:30:00Z"), f"{V4}.tfstate": v_old},
         [("state.serial_regression", state_res(key))])
    earlier = lock_info(key, "OperationTypeApply", "runner@fv-az1134-281", f"{DAY}T07:58:00.100000000Z", "1f2e3d4c-5b6a-4978-8a9b-0c1d2e3f4a5b")
    case(f, "unlocked-write", "the state written while no lock is held (the earlier apply's lock was released; this write took none)", ["state.unlocked_write"],
         {"00-given-earlier-lock-cycle.json": ddb_batch(stream_record("INSERT", lock_id, f"{DAY}T07:58:00Z", 20, new=lock_image(lock_id, earlier)),
                                                         stream_record("REMOVE", lock_id, f"{DAY}T08:00:40Z", 21, old=lock_image(lock_id, earlier))),
          "event.json": created(V2, v2, f"{DAY}T11:40:00Z"), f"{V2}.tfstate": v2},
         [("state.unlocked_write", state_res(key))])
    case(f, "digest-mismatch", "the lock table's digest does not match the state object written", ["state.digest_mismatch"],
         {"01-given-lock-acquired.json": ddb_batch(stream_record("INSERT", lock_id, f"{DAY}T11:00:02Z", 30, new=lock_image(lock_id, info))),
          "event.json": created(V2, v2, f"{DAY}T11:03:40Z"), f"{V2}.tfstate": v2,
          "then-digest-and-unlock.json": ddb_batch(stream_record("MODIFY", lock_id + "-md5", f"{DAY}T11:03:41Z", 31, new=digest_image(lock_id, md5(v1)), old=digest_image(lock_id, md5(v_old))),
                                                   stream_record("REMOVE", lock_id, f"{DAY}T11:03:42Z", 32, old=lock_image(lock_id, info)))},
         [("state.digest_mismatch", state_res(key))])


def lock_watcher():
    f = "lock-watcher"
    key = "prod/data.tfstate"
    lock_id = f"{STATE_BUCKET}/{key}"
    a = lock_info(key, "OperationTypeApply", "runner@fv-az1134-281", f"{DAY}T12:00:01.000000000Z", "6a5b4c3d-2e1f-4a0b-9c8d-7e6f5a4b3c2d")
    b = lock_info(key, "OperationTypeApply", "raj.patel@stmarys-mbp-0231", f"{DAY}T12:04:10.000000000Z", "d2c3b4a5-9687-4f5e-8d7c-6b5a4f3e2d1c")
    case(f, "force-unlock-overwritten", "a held lock item overwritten with another run's Info (unconditional PutItem)", ["lock.force_unlock"],
         {"event.json": ddb_batch(stream_record("INSERT", lock_id, f"{DAY}T12:00:01Z", 40, new=lock_image(lock_id, a)),
                                  stream_record("MODIFY", lock_id, f"{DAY}T12:04:10Z", 41, new=lock_image(lock_id, b), old=lock_image(lock_id, a)))},
         [("lock.force_unlock", state_res(key))])
    case(f, "negative-lock-cycle", "a normal apply: lock, digest update, unlock", [],
         {"event.json": ddb_batch(stream_record("INSERT", lock_id, f"{DAY}T12:10:00Z", 50, new=lock_image(lock_id, a)),
                                  stream_record("MODIFY", lock_id + "-md5", f"{DAY}T12:12:30Z", 51, new=digest_image(lock_id, "5d41402abc4b2a76b9719d911017c592"), old=digest_image(lock_id, "7d793037a0760186574b0282f2f435e7")),
                                  stream_record("REMOVE", lock_id, f"{DAY}T12:12:31Z", 52, old=lock_image(lock_id, a)))},
         [])
    case(f, "negative-ttl-removal", "an expired lock removed by DynamoDB TTL: a release, not a force-unlock", [],
         {"event.json": ddb_batch(stream_record("INSERT", lock_id, f"{DAY}T12:20:00Z", 60, new=lock_image(lock_id, a)),
                                  stream_record("REMOVE", lock_id, f"{DAY}T12:25:00Z", 61, old=lock_image(lock_id, a), ttl=True))},
         [])
    app_key = "prod/app.tfstate"
    la = lock_info(app_key, "OperationTypeApply", "runner@fv-az1134-281", f"{DAY}T12:30:00.000000000Z", "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d")
    VA, VB = "Lk2Jh4Gf6Ds8Aq0Wz1Xs3Ec5Rv7Tb9Yn", "Mn1Bv3Cx5Zl7Kj9Hg2Fd4Sa6Qw8Er0Ty"
    case(f, "negative-tflock-cycle", "S3 lock file (use_lockfile): created and deleted by one run", [],
         {"event.json": {"Records": [s3_notification("ObjectCreated:Put", app_key + ".tflock", f"{DAY}T12:30:00Z", VA, size=214, etag=hexid("e1")),
                                     s3_notification("ObjectRemoved:Delete", app_key + ".tflock", f"{DAY}T12:33:10Z", VB)]},
          f"{VA}.tflock": (json.dumps(la, separators=(",", ":")) + "\n").encode()},
         [])


def sweeper():
    f = "sweeper"
    key = "prod/data.tfstate"
    lock_id = f"{STATE_BUCKET}/{key}"
    old = lock_info(key, "OperationTypeApply", "runner@fv-az1134-281", f"{DAY}T06:00:05.000000000Z", "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f")
    case(f, "stale-lock", "an apply lock held since 06:00 (its runner died); the 09:00 sweep finds it 3 h old, over the 120 min allowed", ["lock.stale"],
         {"00-given-lock-held.json": ddb_batch(stream_record("INSERT", lock_id, f"{DAY}T06:00:05Z", 70, new=lock_image(lock_id, old))),
          "event.json": schedule(f"{DAY}T09:00:00Z")},
         [("lock.stale", state_res(key))])
    fresh = lock_info(key, "OperationTypeApply", "runner@fv-az1134-281", f"{DAY}T08:45:00.000000000Z", "7e8f9a0b-1c2d-4e3f-8a4b-5c6d7e8f9a0b")
    case(f, "negative-fresh-lock", "a lock taken 15 minutes before the sweep", [],
         {"00-given-lock-held.json": ddb_batch(stream_record("INSERT", lock_id, f"{DAY}T08:45:00Z", 80, new=lock_image(lock_id, fresh))),
          "event.json": schedule(f"{DAY}T09:00:00Z")},
         [])


def main():
    # Each case's directory is rewritten; cases written by hand or by gen_controls.py (the
    # control catalog's, control-*) are left alone.
    trail_watcher()
    config_watcher()
    state_watcher()
    lock_watcher()
    sweeper()
    print(f"wrote {len(CASES)} cases under {EVENTS}")
    print("\n| function | case | what happens | expected rules |\n|---|---|---|---|")
    for fn, c, w, r in CASES:
        rules = ", ".join(f"`{x}`" for x in r) or "none (negative)"
        print(f"| {fn} | [`{c}`]({fn}/{c}/) | {w} | {rules} |")


if __name__ == "__main__":
    main()
