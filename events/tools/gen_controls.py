"""The control catalog and its events/ cases, from one spec (controls_spec.py).

Writes crates/core/catalog/controls/<family>.toml, events/trail-watcher/control-<id>[-negative]/
and events/config-watcher/control-<id>[-negative]/ for rows with a Config signal, and
infra/patterns/cloudtrail-calls.json (the API table's, the catalog rows' and the control catalog's
calls). The
catalog files are what the code reads; this spec is how they were written, with their cases.
Deterministic, stdlib only (Python 3.11+):

    python3 events/tools/gen_controls.py
"""
import glob, json, os, sys, hashlib, tomllib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from controls_spec import ROWS

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FAMILIES = {'audit_weakened': 'audit', 'public_exposure': 'public', 'integrity_weakened': 'integrity',
            'network_exposure': 'network', 'detection_disabled': 'detection', 'identity_risk': 'identity'}
HEAD = {
    'audit': 'audit_weakened: the trail, AWS Config, flow logs, access logs, query logs and log groups',
    'public': 'public_exposure: data made reachable from outside the organisation',
    'integrity': 'integrity_weakened: versioning, deletion protection, backups, replication, Object Lock',
    'network': 'network_exposure: ports, routes and gateways open to the internet',
    'detection': 'detection_disabled: GuardDuty, Security Hub, Macie, Access Analyzer, WAF and alarms',
    'identity': 'identity_risk: administrators, trust, credentials, MFA and the root user',
}

def tv(v):
    if isinstance(v, bool): return 'true' if v else 'false'
    if isinstance(v, (int, float)): return str(v)
    if isinstance(v, str): return json.dumps(v)
    if isinstance(v, list): return '[' + ', '.join(tv(x) for x in v) + ']'
    if isinstance(v, dict): return '{ ' + ', '.join(f'{k if k.replace("_","").isalnum() else json.dumps(k)} = {tv(x)}' for k, x in v.items()) + ' }'
    raise ValueError(v)

def cond(c):
    return tv(c)

def toml_row(r):
    out = ['[[control]]', f'id = {tv(r["id"])}', f'family = {tv(r["family"])}', f'title = {tv(r["title"])}', f'type = {tv(r["type"])}']
    if r['severity']: out.append(f'severity = {tv(r["severity"])}')
    out.append(f'hipaa = {tv(r["hipaa"])}')
    out.append(f'nist = {tv(r["nist"])}')
    if r['cis']: out.append(f'cis = {tv(r["cis"])}')
    for c in r['calls']:
        out.append('  [[control.call]]')
        out.append(f'  source = {tv(c["source"])}')
        out.append(f'  names = {tv(c["names"])}')
        out.append(f'  id = {tv(c["id"])}')
        if c.get('arn'): out.append(f'  arn = {tv(c["arn"])}')
        if c.get('root'): out.append('  root = true')
        if c.get('when'): out.append('  when = [' + ', '.join(cond(x) for x in c['when']) + ']')
        if c.get('unless'): out.append('  unless = [' + ', '.join(cond(x) for x in c['unless']) + ']')
    for c in r['config']:
        out.append('  [[control.config]]')
        if c.get('deleted'): out.append('  deleted = true')
        if c.get('when'): out.append('  when = [' + ', '.join(cond(x) for x in c['when']) + ']')
        if c.get('changed'): out.append(f'  changed = {tv(c["changed"])}')
    for t in r['tf']:
        out.append('  [[control.terraform]]')
        out.append(f'  type = {tv(t["type"])}')
        if t.get('id_attr'): out.append(f'  id_attr = {tv(t["id_attr"])}')
        if t.get('keep'): out.append(f'  keep = {tv(t["keep"])}')
        out.append('  when = [' + ', '.join(cond(x) for x in t['when']) + ']')
        if t.get('unless'): out.append('  unless = [' + ', '.join(cond(x) for x in t['unless']) + ']')
    return '\n'.join(out) + '\n'

# ------------------------------------------------------------------ template rendering (as the Rust side does)
def lookup(doc, path):
    cur = doc
    for step in path.replace('[', '.[').split('.'):
        if step.startswith('['):
            i = int(step[1:-1])
            if isinstance(cur, list) and len(cur) > i: cur = cur[i]
            elif i == 0 and isinstance(cur, dict): pass
            else: return None
        else:
            if isinstance(cur, dict): cur = cur.get(step)
            elif isinstance(cur, list) and cur: cur = cur[0].get(step) if isinstance(cur[0], dict) else None
            else: return None
        if cur is None: return None
    return cur

def arn_name(s):
    if not s.startswith('arn:'): return s
    parts = s.split(':', 5)
    if len(parts) < 6: return s
    res = parts[5]
    if '/' in res: return res.rsplit('/', 1)[1]
    if ':' in res: return res.split(':', 1)[1].split(':')[0]
    return res

def render(t, detail):
    out = ''
    rest = t
    while '{' in rest:
        i = rest.index('{'); j = rest.index('}')
        out += rest[:i]
        var = rest[i+1:j]; rest = rest[j+1:]
        name, _, tr = var.partition('|')
        if name == 'account': v = '123456789012'
        elif name == 'region': v = 'us-east-1'
        elif name == 'partition': v = 'aws'
        else:
            v = lookup(detail, name)
            if isinstance(v, bool): v = 'true' if v else 'false'
            elif isinstance(v, (int, float)): v = str(v)
            elif not isinstance(v, str): return None
        if tr == 'arn_name': v = arn_name(v)
        elif tr == 'kms_key': v = v.rsplit('key/', 1)[1] if 'key/' in v else v
        if not v: return None
        out += v
    return out + rest

# ------------------------------------------------------------------ events
IDENT = {
    'admin': {
        'type': 'AssumedRole', 'principalId': 'AROAR7E5PLATADMIN001:raj.patel',
        'arn': 'arn:aws:sts::123456789012:assumed-role/PlatformAdmin/raj.patel', 'accountId': '123456789012',
        'accessKeyId': 'ASIAR7E5CLIEXAMPLE01',
        'sessionContext': {'sessionIssuer': {'type': 'Role', 'principalId': 'AROAR7E5PLATADMIN001', 'arn': 'arn:aws:iam::123456789012:role/PlatformAdmin', 'accountId': '123456789012', 'userName': 'PlatformAdmin'},
                           'webIdFederationData': {}, 'attributes': {'creationDate': '2026-11-20T08:41:07Z', 'mfaAuthenticated': 'true'}}},
    'root': {'type': 'Root', 'principalId': '123456789012', 'arn': 'arn:aws:iam::123456789012:root', 'accountId': '123456789012', 'accessKeyId': 'ASIAR7E5ROOTEXAMPLE1',
             'sessionContext': {'attributes': {'creationDate': '2026-11-20T08:41:07Z', 'mfaAuthenticated': 'false'}}},
    'iamuser': {'type': 'IAMUser', 'principalId': 'AIDAR7E5CONTRACTOR01', 'arn': 'arn:aws:iam::123456789012:user/contractor-kim', 'accountId': '123456789012', 'userName': 'contractor-kim'},
}

def eb_source(es):
    svc = es.split('.')[0]
    return {'monitoring': 'aws.cloudwatch', 's3control': 'aws.s3', 'elasticfilesystem': 'aws.elasticfilesystem'}.get(svc, 'aws.' + svc)

def uid(*parts):
    h = hashlib.sha256('/'.join(parts).encode()).hexdigest()
    return f'{h[:8]}-{h[8:12]}-4{h[13:16]}-8{h[17:20]}-{h[20:32]}'

def detail(row, e, source, n, error=None, read_only=False):
    t = f'2026-11-20T10:{n:02d}:00Z'
    d = {'eventVersion': '1.10', 'userIdentity': IDENT[e['identity']], 'eventTime': t, 'eventSource': source, 'eventName': e['name'],
         'awsRegion': 'us-east-1', 'sourceIPAddress': '203.0.113.77', 'userAgent': 'aws-cli/2.17.0 Python/3.12.4 Linux/6.8 exe/x86_64',
         'requestParameters': e['params'], 'responseElements': e['response']}
    if error:
        d['errorCode'] = 'AccessDenied'
        d['errorMessage'] = f'User is not authorized to perform: {e["name"]}'
        d['responseElements'] = None
    d.update({'requestID': uid(row['id'], e['name'], str(n), 'req'), 'eventID': uid(row['id'], e['name'], str(n), str(error)), 'readOnly': read_only,
              'eventType': 'AwsConsoleSignIn' if e['name'] == 'ConsoleLogin' else 'AwsApiCall', 'managementEvent': True,
              'recipientAccountId': '123456789012', 'eventCategory': 'Management'})
    for k, v in e['extra'].items():
        if k != 'eventSource': d[k] = v
    return d

def source_of(row, e):
    if 'eventSource' in e['extra']: return e['extra']['eventSource']
    return row['calls'][0]['source']

def envelope(d, eid):
    return {'version': '0', 'id': eid, 'detail-type': 'AWS Console Sign In via CloudTrail' if d['eventName'] == 'ConsoleLogin' else 'AWS API Call via CloudTrail',
            'source': eb_source(d['eventSource']), 'account': '123456789012', 'time': d['eventTime'], 'region': 'us-east-1', 'resources': [], 'detail': d}

def write(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        json.dump(obj, f, indent=2)
        f.write('\n')

def slug(id):
    return id.replace('.', '-').replace('_', '-')

def expected_id(row, e, d):
    src = d['eventSource']
    for c in row['calls']:
        if c.get('root'):
            return render(c['id'], d)
        if c['source'] == src and e['name'] in c['names']:
            return render(c['id'], d) or '123456789012'
    raise SystemExit(f'{row["id"]}: case call {e["name"]} is not a row call')

files = {f: [] for f in FAMILIES.values()}
for r in ROWS:
    files[FAMILIES[r['family']]].append(toml_row(r))
for f, rows in files.items():
    with open(os.path.join(ROOT, 'crates/core/catalog/controls', f + '.toml'), 'w') as out:
        out.write(f'# The control catalog, {HEAD[f]}.\n# Format: crates/core/src/detect/controls.rs. Cases: events/*/control-*.\n\n')
        out.write('\n'.join(rows))

# The API table's create calls: a resource created by a person and in no state is drift.unmanaged
# (crates/core/src/detect/cloudtrail.rs), in the cases too.
CREATES = {}
def _groups():
    for g in tomllib.load(open(os.path.join(ROOT, 'crates/core/catalog/cloudtrail.toml'), 'rb'))['group']:
        yield g, g['type']
    for f in sorted(glob.glob(os.path.join(ROOT, 'crates/core/catalog/resources/*.toml'))):
        for row in tomllib.load(open(f, 'rb')).get('resource', []):
            if row.get('cloudtrail'):
                yield row['cloudtrail'], row['config_type']
for g, t in _groups():
    if g.get('account_level'):
        continue
    for c in g['calls']:
        if c['kind'] == 'create':
            CREATES[(c.get('source', g['source']), c['name'])] = (c.get('type', t), c.get('id', g.get('id', [])), c.get('arn', g.get('arn', [])))

def unmanaged_of(d):
    """The drift.unmanaged a person's create call gives: its type and the first id that renders."""
    hit = CREATES.get((d['eventSource'], d['eventName']))
    if hit is None or d.get('errorCode') or d['userIdentity'].get('type') == 'AWSService':
        return []
    t, ids, arns = hit
    rid = next((v for v in (render(x, d) for x in ids) if v), None) or next((v for v in (render(x, d) for x in arns) if v and v.startswith('arn:')), None)
    return [{'rule': 'drift.unmanaged', 'resource': f'{t} {rid}'}] if rid else []

count = 0
for i, r in enumerate(ROWS):
    s = slug(r['id'])
    rule = 'control.' + r['family']
    e = r['case']
    src = source_of(r, e)
    d = detail(r, e, src, i % 60)
    base = os.path.join(ROOT, 'events/trail-watcher', 'control-' + s)
    write(os.path.join(base, 'event.json'), envelope(d, uid(r['id'], 'envelope')))
    exp = [{'rule': rule, 'resource': f'{r["type"]} {expected_id(r, e, d)}'}] + [{'rule': a, 'resource': b} for a, b in r['also']]
    write(os.path.join(base, 'expected.json'), exp)
    # negative: the strengthening / harmless call, the weakening call failed, a read
    recs = [detail(r, r['neg'], source_of(r, r['neg']), i % 60),
            detail(r, e, src, i % 60, error=True),
            detail(r, r['read'], source_of(r, r['read']), i % 60, read_only=True)]
    base = os.path.join(ROOT, 'events/trail-watcher', 'control-' + s + '-negative')
    write(os.path.join(base, 'event.json'), {'Records': recs})
    write(os.path.join(base, 'expected.json'), unmanaged_of(recs[0]))
    count += 2
    if r['config_case'] is not None:
        def item(conf, n):
            supp = {}
            status, change = 'OK', 'UPDATE'
            if isinstance(conf, tuple) and conf[0] == 'deleted':
                conf, status, change = None, 'ResourceDeleted', 'DELETE'
            elif isinstance(conf, tuple):
                supp = conf[1]; conf = {}
            prefix = next((c['changed'] for c in r['config'] if c.get('changed')), None)
            changed_props = {prefix + '.x': {'previousValue': 'x', 'updatedValue': None, 'changeType': 'UPDATE'}} if prefix else {}
            rid = {'AWS::RDS::DBInstance': 'db-RESEARCHREPLICA7HJQY3ZK2M4N', 'AWS::S3::Bucket': 'stmarys-research-exports',
                   'AWS::CloudTrail::Trail': 'research-audit', 'AWS::EC2::SecurityGroup': 'sg-0f1e2d3c4b5a69788', 'AWS::Redshift::Cluster': 'research-dw',
                   'AWS::RDS::DBCluster': 'cluster-RESEARCHAURORA2M4N5P6Q7R', 'AWS::DynamoDB::Table': 'research-consents',
                   'AWS::S3::AccountPublicAccessBlock': '123456789012', 'AWS::EC2::NetworkAcl': 'acl-0a1b2c3d4e5f60718',
                   'AWS::GuardDuty::Detector': '12abc34d567e8fa901bc2d34e56789f0', 'AWS::SQS::Queue': 'https://sqs.us-east-1.amazonaws.com/123456789012/research-intake',
                   'AWS::SNS::Topic': 'arn:aws:sns:us-east-1:123456789012:research-results', 'AWS::Lambda::Function': 'research-export',
                   'AWS::OpenSearch::Domain': '123456789012/research-search', 'AWS::ECR::Repository': 'research/ingest',
                   'AWS::EFS::FileSystem': 'fs-0a1b2c3d4e5f60718', 'AWS::EC2::FlowLog': 'fl-0a1b2c3d4e5f60718',
                   'AWS::Logs::LogGroup': '/aws/research/api', 'AWS::Backup::BackupVault': 'research-vault',
                   'AWS::Backup::BackupPlan': '8f4e2a1c-3b5d-4e6f-9a0b-1c2d3e4f5a6b', 'AWS::GuardDuty::Detector': '12abc34d567e8fa901bc2d34e56789f0',
                   'AWS::AccessAnalyzer::Analyzer': 'arn:aws:access-analyzer:us-east-1:123456789012:analyzer/stmarys-account',
                   'AWS::Config::ConfigRule': 'config-rule-a1b2c3', 'AWS::Detective::Graph': 'arn:aws:detective:us-east-1:123456789012:graph:027c7c4610ea4aacaf0b883093cab899',
                   'AWS::Route53Resolver::ResolverQueryLoggingConfig': 'rqlc-8ca61fe7c055415a', 'AWS::EC2::Subnet': 'subnet-0a1b2c3d4e5f60718',
                   'AWS::EC2::RouteTable': 'rtb-0a1b2c3d4e5f60718', 'AWS::EC2::InternetGateway': 'igw-0a1b2c3d4e5f60718',
                   'AWS::GuardDuty::Filter': '12abc34d567e8fa901bc2d34e56789f0/quiet', 'AWS::CloudWatch::Alarm': 'research-root-login',
                   'AWS::IAM::Role': 'AROAR7E5RESEARCHANALYST', 'AWS::IAM::User': 'AIDAR7E5CONTRACTORKIM1', 'AWS::IAM::Group': 'AGPAR7E5RESEARCHGROUP1'}[r['type']]
            t = f'2026-11-20T11:{n:02d}:00.000Z'
            ci = {'configurationItemVersion': '1.3', 'configurationItemCaptureTime': t, 'configurationStateId': 1795160000000 + n,
                  'configurationItemStatus': status, 'awsAccountId': '123456789012', 'awsRegion': 'us-east-1',
                  'resourceType': r['type'], 'resourceId': rid, 'resourceName': rid, 'ARN': None,
                  'configuration': conf, 'supplementaryConfiguration': supp, 'tags': {}, 'relationships': [], 'relatedEvents': []}
            return {'version': '0', 'id': uid(r['id'], 'config', str(n)), 'detail-type': 'Config Configuration Item Change', 'source': 'aws.config',
                    'account': '123456789012', 'time': t[:19] + 'Z', 'region': 'us-east-1', 'resources': [],
                    'detail': {'recordVersion': '1.3', 'messageType': 'ConfigurationItemChangeNotification', 'notificationCreationTime': t,
                               'configurationItemDiff': {'changeType': change, 'changedProperties': changed_props}, 'configurationItem': ci}}, rid
        ev, rid = item(r['config_case'], i % 60)
        base = os.path.join(ROOT, 'events/config-watcher', 'control-' + s)
        write(os.path.join(base, 'event.json'), ev)
        write(os.path.join(base, 'expected.json'), [{'rule': rule, 'resource': f'{r["type"]} {rid}'}])
        ev, rid = item(r['config_neg'], i % 60)
        base = os.path.join(ROOT, 'events/config-watcher', 'control-' + s + '-negative')
        write(os.path.join(base, 'event.json'), ev)
        write(os.path.join(base, 'expected.json'), [])
        count += 2

# The sign-in row's cases are AWS's own documentation examples (awsdocs/aws-cloudtrail-user-guide,
# doc_source/cloudtrail-event-reference-aws-console-sign-in-events.md, CC-BY-SA-4.0 / MIT-0).
RD = os.path.join(ROOT, '..', 'shared', 'realdata', 'awsdocs-cloudtrail-user-guide', 'cloudtrail-event-reference-aws-console-sign-in-events.{}.json')
pos = json.load(open(RD.format(1)))['Records'][0]
base = os.path.join(ROOT, 'events/trail-watcher/control-signin-console-without-mfa')
write(os.path.join(base, 'event.json'), {'version': '0', 'id': uid('signin', 'real'), 'detail-type': 'AWS Console Sign In via CloudTrail', 'source': 'aws.signin',
      'account': pos['userIdentity']['accountId'], 'time': pos['eventTime'], 'region': pos['awsRegion'], 'resources': [], 'detail': pos})
write(os.path.join(base, 'expected.json'), [{'rule': 'control.identity_risk', 'resource': f'AWS::Account {pos["userIdentity"]["accountId"]}'}])
negs = [json.load(open(RD.format(n))) for n in (2, 3)]
base = os.path.join(ROOT, 'events/trail-watcher/control-signin-console-without-mfa-negative')
write(os.path.join(base, 'event.json'), {'Records': negs})
write(os.path.join(base, 'expected.json'), [])
for b, what in [('control-signin-console-without-mfa', 'code block #1, its first record'), ('control-signin-console-without-mfa-negative', 'code blocks #2 (MFA used) and #3 (a failed sign-in)')]:
    with open(os.path.join(ROOT, 'events/trail-watcher', b, 'ORIGIN.md'), 'w') as f:
        f.write(f'The records of `event.json` are AWS documentation examples, unchanged: awsdocs/aws-cloudtrail-user-guide,\n`doc_source/cloudtrail-event-reference-aws-console-sign-in-events.md` ({what}),\ncommit 56f54d99dfee0c3faf3d4a2b87bb572ad9edf58a, CC-BY-SA-4.0 (docs) / MIT-0 (sample code).\n')

# The S3 ACL row's harmless call is AWS's own documentation example (awsdocs/amazon-s3-userguide,
# doc_source/cloudtrail-logging-understanding-s3-entries.md, code block #1: a PutBucketAcl that
# grants the owner FULL_CONTROL).
S3D = os.path.join(ROOT, '..', 'shared', 'realdata', 'awsdocs-s3-userguide', 'cloudtrail-logging-understanding-s3-entries.1.json')
acl = next(r for r in json.load(open(S3D))['Records'] if r['eventName'] == 'PutBucketAcl')
base = os.path.join(ROOT, 'events/trail-watcher/control-s3-acl-public-negative')
doc = json.load(open(os.path.join(base, 'event.json')))
doc['Records'][0] = acl
write(os.path.join(base, 'event.json'), doc)
with open(os.path.join(base, 'ORIGIN.md'), 'w') as f:
    f.write('The first record of `event.json` is an AWS documentation example, unchanged: awsdocs/amazon-s3-userguide,\n'
            '`doc_source/cloudtrail-logging-understanding-s3-entries.md` (code block #1, its PutBucketAcl record),\n'
            'commit cc53dd6a44d3aa1d654e6d3705a0a7550f20fd2a, CC-BY-SA-4.0 (docs) / MIT-0 (sample code).\n')

# Harmless calls of three more rows are AWS's own documentation examples, unchanged: an
# UpdateTrail that only names the trail (awsdocs/aws-cloudtrail-user-guide,
# doc_source/cloudtrail-log-file-examples.md, code block #7) and an UpdateTable that changes
# throughput (awsdocs/amazon-dynamodb-developer-guide, doc_source/understanding-ddb-log-entries.md,
# code block #1).
REAL = [
    (['control-cloudtrail-log-validation-off-negative', 'control-cloudtrail-single-region-negative'],
     os.path.join('awsdocs-cloudtrail-user-guide', 'cloudtrail-log-file-examples.7.json'), 'UpdateTrail',
     'awsdocs/aws-cloudtrail-user-guide, `doc_source/cloudtrail-log-file-examples.md` (code block #7)'),
    (['control-dynamodb-deletion-protection-off-negative'],
     os.path.join('awsdocs-dynamodb-developer-guide', 'understanding-ddb-log-entries.1.json'), 'UpdateTable',
     'awsdocs/amazon-dynamodb-developer-guide, `doc_source/understanding-ddb-log-entries.md` (code block #1)'),
]
for cases, rel, name, origin in REAL:
    d = json.load(open(os.path.join(ROOT, '..', 'shared', 'realdata', rel)))
    rec = next(r for r in d.get('Records', [d]) if r['eventName'] == name)
    for c in cases:
        base = os.path.join(ROOT, 'events/trail-watcher', c)
        doc = json.load(open(os.path.join(base, 'event.json')))
        doc['Records'][0] = rec
        write(os.path.join(base, 'event.json'), doc)
        with open(os.path.join(base, 'ORIGIN.md'), 'w') as f:
            f.write(f'The first record of `event.json` is an AWS documentation example, unchanged: {origin},\n'
                    f'its {name} record (CC-BY-SA-4.0 docs / MIT-0 sample code; see ../shared/realdata/MANIFEST.tsv).\n')

# ------------------------------------------------------------------ EventBridge patterns
os.chdir(ROOT)
cat = tomllib.load(open('crates/core/catalog/cloudtrail.toml','rb'))
want = {}
for g in cat['group']:
    for c in g['calls']:
        want.setdefault(c.get('source', g.get('source')), set()).add(c['name'])
# the rows of catalog/resources/*.toml carry their calls in [resource.cloudtrail]
for f in sorted(glob.glob('crates/core/catalog/resources/*.toml')):
    for row in tomllib.load(open(f,'rb')).get('resource', []):
        g = row.get('cloudtrail')
        if g:
            for c in g['calls']:
                want.setdefault(g['source'], set()).add(c['name'])
for f in sorted(glob.glob('crates/core/catalog/controls/*.toml')):
    for row in tomllib.load(open(f,'rb')).get('control', []):
        for c in row.get('call', []):
            if c.get('root') or c['source'] == 'signin.amazonaws.com':
                continue
            want.setdefault(c['source'], set()).update(c['names'])
def eb(src):
    svc = src[:-len('.amazonaws.com')]
    return 'aws.' + {'monitoring': 'cloudwatch'}.get(svc, svc)
out = {eb(s): {'name': s[:-len('.amazonaws.com')], 'eventSource': s, 'eventNames': sorted(n)} for s, n in want.items()}
with open('infra/patterns/cloudtrail-calls.json', 'w') as f:
    json.dump(dict(sorted(out.items())), f, indent=2)
    f.write('\n')

print(f'{len(ROWS)} controls, {count} cases')
