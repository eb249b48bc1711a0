# The control catalog's rows and their events/ cases, in one place.
# Each row: id, family, title, type, frameworks, calls (catalog), config (catalog),
# case (positive CloudTrail call), neg (a strengthening / harmless variant), read (a read call).

ADMIN_PORTS = [20, 21, 22, 23, 135, 139, 445, 1433, 1521, 2049, 3306, 3389, 5432, 5439, 5601, 5984, 6379, 7199, 8020, 8888, 9042, 9200, 9300, 11211, 27017, 27018]

def C(id, family, title, type, hipaa, nist, cis=(), severity=None, calls=(), config=(), case=None, neg=None, read=None, config_case=None, config_neg=None, also=(), tf=()):
    return dict(id=id, family=family, title=title, type=type, hipaa=list(hipaa), nist=list(nist), cis=list(cis), severity=severity,
                calls=list(calls), config=list(config), case=case, neg=neg, read=read, config_case=config_case, config_neg=config_neg, also=list(also), tf=list(tf))

def call(source, names, id, when=(), unless=(), arn=None, root=False):
    d = dict(source=source, names=list(names), id=id)
    if arn: d['arn'] = arn
    if when: d['when'] = list(when)
    if unless: d['unless'] = list(unless)
    if root: d['root'] = True
    return d

def w(path, **test):
    d = dict(path=path); d.update(test); return d

def ev(name, params, response=None, source=None, identity='admin', extra=None):
    return dict(name=name, params=params, response=response, source=source, identity=identity, extra=extra or {})

AU = ['164.312(b)']
ROWS = []
A = ROWS.append

# ------------------------------------------------------------------ audit_weakened
CT = 'cloudtrail.amazonaws.com'
A(C('cloudtrail.logging_stopped', 'audit_weakened', 'CloudTrail logging stopped', 'AWS::CloudTrail::Trail', AU, ['AU-2', 'AU-12'], ['3.1'], 'high',
    tf=[dict(type='aws_cloudtrail', when=[w('enable_logging', equals=False)])],
    calls=[call(CT, ['StopLogging'], '{requestParameters.name|arn_name}')],
    case=ev('StopLogging', {'name': 'arn:aws:cloudtrail:us-east-1:123456789012:trail/research-audit'}),
    neg=ev('StartLogging', {'name': 'arn:aws:cloudtrail:us-east-1:123456789012:trail/research-audit'}),
    read=ev('GetTrailStatus', {'name': 'research-audit'})))
A(C('cloudtrail.trail_deleted', 'audit_weakened', 'CloudTrail trail deleted', 'AWS::CloudTrail::Trail', AU, ['AU-2', 'AU-9'], ['3.1'], 'high',
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'Name': 'research-audit', 'IsMultiRegionTrail': True},
    calls=[call(CT, ['DeleteTrail'], '{requestParameters.name|arn_name}')],
    case=ev('DeleteTrail', {'name': 'research-audit'}),
    neg=ev('UpdateTrail', {'name': 'research-audit', 'isMultiRegionTrail': True, 'enableLogFileValidation': True}),
    read=ev('DescribeTrails', {'trailNameList': ['research-audit']})))
A(C('cloudtrail.log_validation_off', 'audit_weakened', 'CloudTrail log file validation turned off', 'AWS::CloudTrail::Trail', AU + ['164.312(c)(1)'], ['AU-9', 'SI-7'], ['3.2'],
    tf=[dict(type='aws_cloudtrail', when=[w('enable_log_file_validation', equals=False)])],
    calls=[call(CT, ['UpdateTrail'], '{requestParameters.name|arn_name}', when=[w('requestParameters.enableLogFileValidation', equals=False)])],
    config=[dict(when=[w('configuration.logFileValidationEnabled', equals=False)]), dict(when=[w('configuration.LogFileValidationEnabled', equals=False)])],
    case=ev('UpdateTrail', {'name': 'research-audit', 'enableLogFileValidation': False}),
    neg=ev('UpdateTrail', {'name': 'research-audit', 'enableLogFileValidation': True}),
    read=ev('GetTrail', {'name': 'research-audit'}),
    config_case={'logFileValidationEnabled': False, 'isMultiRegionTrail': True, 's3BucketName': 'stmarys-research-trail'},
    config_neg={'logFileValidationEnabled': True, 'isMultiRegionTrail': True, 's3BucketName': 'stmarys-research-trail'}))
A(C('cloudtrail.single_region', 'audit_weakened', 'CloudTrail trail narrowed to one region', 'AWS::CloudTrail::Trail', AU, ['AU-2', 'AU-12'], ['3.1'],
    tf=[dict(type='aws_cloudtrail', when=[w('is_multi_region_trail', equals=False)])],
    calls=[call(CT, ['UpdateTrail'], '{requestParameters.name|arn_name}', when=[w('requestParameters.isMultiRegionTrail', equals=False)])],
    config=[dict(when=[w('configuration.isMultiRegionTrail', equals=False)]), dict(when=[w('configuration.IsMultiRegionTrail', equals=False)])],
    case=ev('UpdateTrail', {'name': 'research-audit', 'isMultiRegionTrail': False}),
    neg=ev('UpdateTrail', {'name': 'research-audit', 'isMultiRegionTrail': True}),
    read=ev('GetTrail', {'name': 'research-audit'}),
    config_case={'logFileValidationEnabled': True, 'isMultiRegionTrail': False, 's3BucketName': 'stmarys-research-trail'},
    config_neg={'logFileValidationEnabled': True, 'isMultiRegionTrail': True, 's3BucketName': 'stmarys-research-trail'}))
A(C('cloudtrail.management_events_excluded', 'audit_weakened', 'CloudTrail event selectors reduced', 'AWS::CloudTrail::Trail', AU, ['AU-2', 'AU-12'], ['3.1'],
    calls=[call(CT, ['PutEventSelectors'], '{requestParameters.trailName|arn_name}', when=[w('requestParameters.eventSelectors.includeManagementEvents', equals=False)]),
           call(CT, ['PutEventSelectors'], '{requestParameters.trailName|arn_name}', when=[w('requestParameters.eventSelectors.readWriteType', equals='ReadOnly')])],
    case=ev('PutEventSelectors', {'trailName': 'research-audit', 'eventSelectors': [{'readWriteType': 'All', 'includeManagementEvents': False, 'dataResources': []}]}),
    neg=ev('PutEventSelectors', {'trailName': 'research-audit', 'eventSelectors': [{'readWriteType': 'All', 'includeManagementEvents': True, 'dataResources': []}]}),
    read=ev('GetEventSelectors', {'trailName': 'research-audit'})))
A(C('cloudtrail.insights_removed', 'audit_weakened', 'CloudTrail Insights selectors removed', 'AWS::CloudTrail::Trail', AU, ['AU-6', 'SI-4'],
    severity='medium',
    calls=[call(CT, ['PutInsightSelectors'], '{requestParameters.trailName|arn_name}', when=[w('requestParameters.insightSelectors.insightType', present=False)])],
    case=ev('PutInsightSelectors', {'trailName': 'research-audit', 'insightSelectors': []}),
    neg=ev('PutInsightSelectors', {'trailName': 'research-audit', 'insightSelectors': [{'insightType': 'ApiCallRateInsight'}]}),
    read=ev('GetInsightSelectors', {'trailName': 'research-audit'})))
CFG = 'config.amazonaws.com'
A(C('config.recorder_stopped', 'audit_weakened', 'AWS Config recorder stopped', 'AWS::Config::ConfigurationRecorder', AU, ['CM-8', 'AU-12'], ['3.3'], 'high',
    tf=[dict(type='aws_config_configuration_recorder_status', when=[w('is_enabled', equals=False)], id_attr='name')],
    also=[('watcher.tampered', 'driftwatch::Watcher research')],
    calls=[call(CFG, ['StopConfigurationRecorder'], '{requestParameters.configurationRecorderName}')],
    case=ev('StopConfigurationRecorder', {'configurationRecorderName': 'research'}),
    neg=ev('StartConfigurationRecorder', {'configurationRecorderName': 'research'}),
    read=ev('DescribeConfigurationRecorderStatus', {'configurationRecorderNames': ['research']})))
A(C('config.recorder_deleted', 'audit_weakened', 'AWS Config recorder deleted', 'AWS::Config::ConfigurationRecorder', AU, ['CM-8', 'AU-12'], ['3.3'], 'high',
    also=[('watcher.tampered', 'driftwatch::Watcher research')],
    calls=[call(CFG, ['DeleteConfigurationRecorder'], '{requestParameters.configurationRecorderName}')],
    case=ev('DeleteConfigurationRecorder', {'configurationRecorderName': 'research'}),
    neg=ev('PutConfigurationRecorder', {'configurationRecorder': {'name': 'research', 'roleARN': 'arn:aws:iam::123456789012:role/config', 'recordingGroup': {'allSupported': True, 'includeGlobalResourceTypes': True}}}),
    read=ev('DescribeConfigurationRecorders', {})))
A(C('config.delivery_channel_deleted', 'audit_weakened', 'AWS Config delivery channel deleted', 'AWS::Config::DeliveryChannel', AU, ['CM-8', 'AU-9'], ['3.3'], 'high',
    also=[('watcher.tampered', 'driftwatch::Watcher research')],
    calls=[call(CFG, ['DeleteDeliveryChannel'], '{requestParameters.deliveryChannelName}')],
    case=ev('DeleteDeliveryChannel', {'deliveryChannelName': 'research'}),
    neg=ev('PutDeliveryChannel', {'deliveryChannel': {'name': 'research', 's3BucketName': 'stmarys-research-config'}}),
    read=ev('DescribeDeliveryChannels', {})))
A(C('config.recording_narrowed', 'audit_weakened', 'AWS Config recording narrowed to some resource types', 'AWS::Config::ConfigurationRecorder', AU, ['CM-8'], ['3.3'],
    tf=[dict(type='aws_config_configuration_recorder', when=[w('recording_group.all_supported', equals=False)], id_attr='name')],
    calls=[call(CFG, ['PutConfigurationRecorder'], '{requestParameters.configurationRecorder.name}', when=[w('requestParameters.configurationRecorder.recordingGroup.allSupported', equals=False)])],
    case=ev('PutConfigurationRecorder', {'configurationRecorder': {'name': 'research', 'roleARN': 'arn:aws:iam::123456789012:role/config', 'recordingGroup': {'allSupported': False, 'resourceTypes': ['AWS::S3::Bucket']}}}),
    neg=ev('PutConfigurationRecorder', {'configurationRecorder': {'name': 'research', 'roleARN': 'arn:aws:iam::123456789012:role/config', 'recordingGroup': {'allSupported': True, 'includeGlobalResourceTypes': True}}}),
    read=ev('DescribeConfigurationRecorders', {})))
EC2 = 'ec2.amazonaws.com'
A(C('vpc.flow_logs_deleted', 'audit_weakened', 'VPC flow logs deleted', 'AWS::EC2::FlowLog', AU, ['AU-12', 'SI-4'], ['3.9'], 'high',
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'FlowLogId': 'fl-0a1b2c3d4e5f60718', 'ResourceId': 'vpc-0a1b2c3d4e5f60718', 'TrafficType': 'ALL'},
    calls=[call(EC2, ['DeleteFlowLogs'], '{requestParameters.DeleteFlowLogsRequest.FlowLogId.content}')],
    case=ev('DeleteFlowLogs', {'DeleteFlowLogsRequest': {'FlowLogId': {'tag': 1, 'content': 'fl-0a1b2c3d4e5f60718'}}}),
    neg=ev('CreateFlowLogs', {'CreateFlowLogsRequest': {'ResourceId': {'tag': 1, 'content': 'vpc-0a1b2c3d4e5f60718'}, 'TrafficType': 'ALL', 'LogDestinationType': 's3'}}),
    read=ev('DescribeFlowLogs', {'DescribeFlowLogsRequest': {}})))
S3 = 's3.amazonaws.com'
A(C('s3.access_logging_off', 'audit_weakened', 'S3 server access logging turned off', 'AWS::S3::Bucket', AU, ['AU-2', 'AU-12'], ['3.6'],
    config=[dict(when=[w('supplementaryConfiguration.BucketLoggingConfiguration.destinationBucketName', present=False)], changed='SupplementaryConfiguration.BucketLoggingConfiguration')], config_case=('supp', {'BucketLoggingConfiguration': {'logFilePrefix': None}}), config_neg=('supp', {'BucketLoggingConfiguration': {'destinationBucketName': 'stmarys-access-logs', 'logFilePrefix': 'research/'}}),
    calls=[call(S3, ['PutBucketLogging'], '{requestParameters.bucketName}', when=[w('requestParameters.BucketLoggingStatus.LoggingEnabled', present=False)])],
    case=ev('PutBucketLogging', {'bucketName': 'stmarys-research-exports', 'BucketLoggingStatus': {'xmlns': 'http://s3.amazonaws.com/doc/2006-03-01/'}, 'logging': ''}),
    neg=ev('PutBucketLogging', {'bucketName': 'stmarys-research-exports', 'BucketLoggingStatus': {'LoggingEnabled': {'TargetBucket': 'stmarys-access-logs', 'TargetPrefix': 'research/'}}, 'logging': ''}),
    read=ev('GetBucketLogging', {'bucketName': 'stmarys-research-exports', 'logging': ''})))
R53R = 'route53resolver.amazonaws.com'
A(C('route53resolver.query_logging_deleted', 'audit_weakened', 'Route 53 Resolver query logging deleted', 'AWS::Route53Resolver::ResolverQueryLoggingConfig', AU, ['AU-12', 'SI-4'],
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'Id': 'rqlc-8ca61fe7c055415a', 'Name': 'research'},
    calls=[call(R53R, ['DeleteResolverQueryLogConfig', 'DisassociateResolverQueryLogConfig'], '{requestParameters.resolverQueryLogConfigId}')],
    case=ev('DeleteResolverQueryLogConfig', {'resolverQueryLogConfigId': 'rqlc-8ca61fe7c055415a'}),
    neg=ev('AssociateResolverQueryLogConfig', {'resolverQueryLogConfigId': 'rqlc-8ca61fe7c055415a', 'resourceId': 'vpc-0a1b2c3d4e5f60718'}),
    read=ev('ListResolverQueryLogConfigs', {})))
LOGS = 'logs.amazonaws.com'
A(C('logs.log_group_deleted', 'audit_weakened', 'CloudWatch log group deleted', 'AWS::Logs::LogGroup', AU, ['AU-9', 'AU-11'], severity='medium',
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'logGroupName': '/aws/research/api', 'retentionInDays': 2192},
    calls=[call(LOGS, ['DeleteLogGroup'], '{requestParameters.logGroupName}')],
    case=ev('DeleteLogGroup', {'logGroupName': '/aws/research/api'}),
    neg=ev('TagLogGroup', {'logGroupName': '/aws/research/api', 'tags': {'owner': 'research'}}),
    read=ev('DescribeLogGroups', {'logGroupNamePrefix': '/aws/research'})))
A(C('logs.retention_shortened', 'audit_weakened', 'CloudWatch log retention cut below a year', 'AWS::Logs::LogGroup', AU, ['AU-11'], severity='medium',
    tf=[dict(type='aws_cloudwatch_log_group', when=[w('retention_in_days', below=365)], unless=[w('retention_in_days', equals=0)])],
    calls=[call(LOGS, ['PutRetentionPolicy'], '{requestParameters.logGroupName}', when=[w('requestParameters.retentionInDays', below=365)])],
    case=ev('PutRetentionPolicy', {'logGroupName': '/aws/research/api', 'retentionInDays': 7}),
    neg=ev('PutRetentionPolicy', {'logGroupName': '/aws/research/api', 'retentionInDays': 2192}),
    read=ev('DescribeLogGroups', {'logGroupNamePrefix': '/aws/research'})))
A(C('s3.audit_log_expiring_early', 'audit_weakened', 'Audit logs set to expire within a year (a lifecycle rule on an audit-log bucket)', 'AWS::S3::Bucket', AU + ['164.316(b)(2)(i)'], ['AU-11', 'AU-9'], severity='high',
    calls=[call(S3, ['PutBucketLifecycle', 'PutBucketLifecycleConfiguration'], '{requestParameters.bucketName}', when=[w('requestParameters.bucketName', audit_log_bucket=True), w('requestParameters.LifecycleConfiguration.Rule.Expiration.Days', below=365)])],
    tf=[dict(type='aws_s3_bucket_lifecycle_configuration', when=[w('bucket', audit_log_bucket=True), w('rule.expiration.days', below=365)], id_attr='bucket')],
    case=ev('PutBucketLifecycle', {'bucketName': 'stmarys-research-trail', 'lifecycle': '', 'LifecycleConfiguration': {'Rule': {'ID': 'tidy', 'Status': 'Enabled', 'Filter': {'Prefix': ''}, 'Expiration': {'Days': 30}}}}),
    neg=ev('PutBucketLifecycle', {'bucketName': 'stmarys-research-trail', 'lifecycle': '', 'LifecycleConfiguration': {'Rule': {'ID': 'tidy', 'Status': 'Enabled', 'Filter': {'Prefix': ''}, 'Expiration': {'Days': 2555}}}}),
    read=ev('GetBucketLifecycleConfiguration', {'bucketName': 'stmarys-research-trail', 'lifecycle': ''})))
A(C('logs.subscription_removed', 'audit_weakened', 'CloudWatch log forwarding (subscription filter) removed', 'AWS::Logs::LogGroup', AU, ['AU-6', 'AU-9'], severity='medium',
    calls=[call(LOGS, ['DeleteSubscriptionFilter'], '{requestParameters.logGroupName}')],
    case=ev('DeleteSubscriptionFilter', {'logGroupName': '/aws/research/api', 'filterName': 'to-siem'}),
    neg=ev('PutSubscriptionFilter', {'logGroupName': '/aws/research/api', 'filterName': 'to-siem', 'filterPattern': '', 'destinationArn': 'arn:aws:firehose:us-east-1:123456789012:deliverystream/siem'}),
    read=ev('DescribeSubscriptionFilters', {'logGroupName': '/aws/research/api'})))
ELB = 'elasticloadbalancing.amazonaws.com'
A(C('elb.access_logs_off', 'audit_weakened', 'Load balancer access logs turned off', 'AWS::ElasticLoadBalancingV2::LoadBalancer', AU, ['AU-2', 'AU-12'], severity='medium',
    calls=[call(ELB, ['ModifyLoadBalancerAttributes'], '{requestParameters.loadBalancerArn|arn_name}', arn='{requestParameters.loadBalancerArn}', when=[w('requestParameters.attributes', has={'key': 'access_logs.s3.enabled', 'value': 'false'})])],
    case=ev('ModifyLoadBalancerAttributes', {'loadBalancerArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188', 'attributes': [{'key': 'access_logs.s3.enabled', 'value': 'false'}]}),
    neg=ev('ModifyLoadBalancerAttributes', {'loadBalancerArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188', 'attributes': [{'key': 'access_logs.s3.enabled', 'value': 'true'}, {'key': 'access_logs.s3.bucket', 'value': 'stmarys-access-logs'}]}),
    read=ev('DescribeLoadBalancerAttributes', {'loadBalancerArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188'})))
RDS = 'rds.amazonaws.com'
A(C('rds.log_exports_removed', 'audit_weakened', 'RDS log exports to CloudWatch removed', 'AWS::RDS::DBInstance', AU, ['AU-2', 'AU-12'], severity='medium',
    config=[dict(when=[w('configuration.enabledCloudwatchLogsExports', present=False)], changed='Configuration.EnabledCloudwatchLogsExports')], config_case={'dBInstanceIdentifier': 'research-replica', 'enabledCloudwatchLogsExports': [], 'deletionProtection': True, 'backupRetentionPeriod': 35}, config_neg={'dBInstanceIdentifier': 'research-replica', 'enabledCloudwatchLogsExports': ['postgresql'], 'deletionProtection': True, 'backupRetentionPeriod': 35},
    calls=[call(RDS, ['ModifyDBInstance'], '{requestParameters.dBInstanceIdentifier}', arn='arn:{partition}:rds:{region}:{account}:db:{requestParameters.dBInstanceIdentifier}', when=[w('requestParameters.cloudwatchLogsExportConfiguration.disableLogTypes', present=True)])],
    case=ev('ModifyDBInstance', {'dBInstanceIdentifier': 'research-replica', 'cloudwatchLogsExportConfiguration': {'disableLogTypes': ['postgresql']}, 'applyImmediately': True}),
    neg=ev('ModifyDBInstance', {'dBInstanceIdentifier': 'research-replica', 'cloudwatchLogsExportConfiguration': {'enableLogTypes': ['postgresql']}, 'applyImmediately': True}),
    read=ev('DescribeDBInstances', {'dBInstanceIdentifier': 'research-replica'})))

# ------------------------------------------------------------------ public_exposure
PX = ['164.312(a)(1)', '164.312(e)(1)']
A(C('s3.public_access_block_deleted', 'public_exposure', 'S3 bucket public access block deleted', 'AWS::S3::Bucket', PX, ['AC-3', 'AC-21'], ['2.1.4'], 'high',
    calls=[call(S3, ['DeletePublicAccessBlock'], '{requestParameters.bucketName}')],
    case=ev('DeletePublicAccessBlock', {'bucketName': 'stmarys-research-exports', 'publicAccessBlock': ''}),
    neg=ev('PutPublicAccessBlock', {'bucketName': 'stmarys-research-exports', 'publicAccessBlock': '', 'PublicAccessBlockConfiguration': {'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}}),
    read=ev('GetPublicAccessBlock', {'bucketName': 'stmarys-research-exports', 'publicAccessBlock': ''})))
A(C('s3.public_access_block_weakened', 'public_exposure', 'S3 bucket public access block weakened', 'AWS::S3::Bucket', PX, ['AC-3', 'AC-21'], ['2.1.4'], 'high',
    tf=[dict(type='aws_s3_bucket_public_access_block', when=[w(k, equals=False)]) for k in ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets']],
    calls=[call(S3, ['PutPublicAccessBlock'], '{requestParameters.bucketName}', when=[w('requestParameters.PublicAccessBlockConfiguration', contains='false')])],
    config=[dict(when=[w('supplementaryConfiguration.PublicAccessBlockConfiguration', contains='false')])],
    case=ev('PutPublicAccessBlock', {'bucketName': 'stmarys-research-exports', 'publicAccessBlock': '', 'PublicAccessBlockConfiguration': {'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': False, 'RestrictPublicBuckets': False}}),
    neg=ev('PutPublicAccessBlock', {'bucketName': 'stmarys-research-exports', 'publicAccessBlock': '', 'PublicAccessBlockConfiguration': {'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}}),
    read=ev('GetPublicAccessBlock', {'bucketName': 'stmarys-research-exports', 'publicAccessBlock': ''}),
    config_case=('supp', {'PublicAccessBlockConfiguration': {'blockPublicAcls': True, 'ignorePublicAcls': True, 'blockPublicPolicy': False, 'restrictPublicBuckets': False}}),
    config_neg=('supp', {'PublicAccessBlockConfiguration': {'blockPublicAcls': True, 'ignorePublicAcls': True, 'blockPublicPolicy': True, 'restrictPublicBuckets': True}})))
A(C('s3.account_public_access_block_deleted', 'public_exposure', 'Account-level S3 public access block deleted', 'AWS::S3::AccountPublicAccessBlock', PX, ['AC-3', 'AC-21'], ['2.1.4'], 'high',
    calls=[call(S3, ['DeleteAccountPublicAccessBlock'], '{account}')],
    case=ev('DeleteAccountPublicAccessBlock', {'accountId': '123456789012'}),
    neg=ev('PutAccountPublicAccessBlock', {'accountId': '123456789012', 'PublicAccessBlockConfiguration': {'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}}),
    read=ev('GetAccountPublicAccessBlock', {'accountId': '123456789012'})))
A(C('s3.account_public_access_block_weakened', 'public_exposure', 'Account-level S3 public access block weakened', 'AWS::S3::AccountPublicAccessBlock', PX, ['AC-3', 'AC-21'], ['2.1.4'], 'high',
    tf=[dict(type='aws_s3_account_public_access_block', when=[w('block_public_acls', equals=False)], id_attr='account_id'), dict(type='aws_s3_account_public_access_block', when=[w('block_public_policy', equals=False)], id_attr='account_id'), dict(type='aws_s3_account_public_access_block', when=[w('ignore_public_acls', equals=False)], id_attr='account_id'), dict(type='aws_s3_account_public_access_block', when=[w('restrict_public_buckets', equals=False)], id_attr='account_id')],
    config=[dict(when=[w('configuration', contains='false')])], config_case={'blockPublicAcls': False, 'ignorePublicAcls': False, 'blockPublicPolicy': True, 'restrictPublicBuckets': True}, config_neg={'blockPublicAcls': True, 'ignorePublicAcls': True, 'blockPublicPolicy': True, 'restrictPublicBuckets': True},
    calls=[call(S3, ['PutAccountPublicAccessBlock'], '{account}', when=[w('requestParameters.PublicAccessBlockConfiguration', contains='false')])],
    case=ev('PutAccountPublicAccessBlock', {'accountId': '123456789012', 'PublicAccessBlockConfiguration': {'BlockPublicAcls': False, 'IgnorePublicAcls': False, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}}),
    neg=ev('PutAccountPublicAccessBlock', {'accountId': '123456789012', 'PublicAccessBlockConfiguration': {'BlockPublicAcls': True, 'IgnorePublicAcls': True, 'BlockPublicPolicy': True, 'RestrictPublicBuckets': True}}),
    read=ev('GetAccountPublicAccessBlock', {'accountId': '123456789012'})))
A(C('s3.policy_public', 'public_exposure', 'S3 bucket policy grants everyone', 'AWS::S3::Bucket', PX, ['AC-3', 'AC-6'], ['2.1.1'], 'critical',
    tf=[dict(type='aws_s3_bucket_policy', when=[w('policy', wildcard_principal=True)])],
    calls=[call(S3, ['PutBucketPolicy'], '{requestParameters.bucketName}', when=[w('requestParameters.bucketPolicy', wildcard_principal=True)])],
    config=[dict(when=[w('supplementaryConfiguration.BucketPolicy.policyText', wildcard_principal=True)])],
    case=ev('PutBucketPolicy', {'bucketName': 'stmarys-research-exports', 'policy': '', 'bucketPolicy': {'Version': '2012-10-17', 'Statement': [{'Sid': 'Share', 'Effect': 'Allow', 'Principal': '*', 'Action': 's3:GetObject', 'Resource': 'arn:aws:s3:::stmarys-research-exports/*'}]}}),
    neg=ev('PutBucketPolicy', {'bucketName': 'stmarys-research-exports', 'policy': '', 'bucketPolicy': {'Version': '2012-10-17', 'Statement': [{'Sid': 'TLS', 'Effect': 'Deny', 'Principal': '*', 'Action': 's3:*', 'Resource': 'arn:aws:s3:::stmarys-research-exports/*', 'Condition': {'Bool': {'aws:SecureTransport': 'false'}}}]}}),
    read=ev('GetBucketPolicy', {'bucketName': 'stmarys-research-exports', 'policy': ''}),
    config_case=('supp', {'BucketPolicy': {'policyText': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::stmarys-research-exports/*"}]}'}}),
    config_neg=('supp', {'BucketPolicy': {'policyText': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/research"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::stmarys-research-exports/*"}]}'}})))
A(C('s3.acl_public', 'public_exposure', 'S3 ACL grants AllUsers or AuthenticatedUsers', 'AWS::S3::Bucket', PX, ['AC-3', 'AC-6'], ['2.1.1'], 'critical',
    tf=[dict(type='aws_s3_bucket_acl', when=[w('acl', **{'in': ['public-read', 'public-read-write', 'authenticated-read']})], id_attr='bucket'), dict(type='aws_s3_bucket_acl', when=[w('access_control_policy.grant.grantee.uri', contains='groups/global/AllUsers')], id_attr='bucket')],
    config=[dict(when=[w('supplementaryConfiguration.AccessControlList', contains='groups/global/AllUsers')]), dict(when=[w('supplementaryConfiguration.AccessControlList', contains='groups/global/AuthenticatedUsers')])], config_case=('supp', {'AccessControlList': {'grantSet': None, 'grantList': [{'grantee': 'http://acs.amazonaws.com/groups/global/AllUsers', 'permission': 'Read'}], 'owner': {'id': 'a1b2c3'}}}), config_neg=('supp', {'AccessControlList': {'grantSet': None, 'grantList': [{'grantee': {'id': 'a1b2c3'}, 'permission': 'FullControl'}], 'owner': {'id': 'a1b2c3'}}}),
    calls=[call(S3, ['PutBucketAcl', 'PutObjectAcl'], '{requestParameters.bucketName}', when=[w('requestParameters.AccessControlPolicy', contains='groups/global/AllUsers')]),
           call(S3, ['PutBucketAcl', 'PutObjectAcl'], '{requestParameters.bucketName}', when=[w('requestParameters.AccessControlPolicy', contains='groups/global/AuthenticatedUsers')]),
           call(S3, ['PutBucketAcl', 'PutObjectAcl'], '{requestParameters.bucketName}', when=[w('requestParameters.x-amz-acl', **{'in': ['public-read', 'public-read-write', 'authenticated-read']})])],
    case=ev('PutBucketAcl', {'bucketName': 'stmarys-research-exports', 'acl': '', 'AccessControlPolicy': {'AccessControlList': {'Grant': [{'Grantee': {'xsi:type': 'Group', 'URI': 'http://acs.amazonaws.com/groups/global/AllUsers'}, 'Permission': 'READ'}]}, 'Owner': {'ID': 'a1b2c3'}}}),
    neg=ev('PutBucketAcl', {'bucketName': 'stmarys-research-exports', 'acl': '', 'x-amz-acl': ['private']}),
    read=ev('GetBucketAcl', {'bucketName': 'stmarys-research-exports', 'acl': ''})))
A(C('rds.instance_public', 'public_exposure', 'RDS instance made publicly accessible', 'AWS::RDS::DBInstance', PX, ['AC-3', 'SC-7'], ['2.3.3'], 'critical',
    tf=[dict(type='aws_db_instance', when=[w('publicly_accessible', equals=True)])],
    calls=[call(RDS, ['ModifyDBInstance', 'CreateDBInstance', 'RestoreDBInstanceFromDBSnapshot'], '{requestParameters.dBInstanceIdentifier}', arn='arn:{partition}:rds:{region}:{account}:db:{requestParameters.dBInstanceIdentifier}', when=[w('requestParameters.publiclyAccessible', equals=True)])],
    config=[dict(when=[w('configuration.publiclyAccessible', equals=True)])],
    case=ev('ModifyDBInstance', {'dBInstanceIdentifier': 'research-replica', 'publiclyAccessible': True, 'applyImmediately': True}),
    neg=ev('ModifyDBInstance', {'dBInstanceIdentifier': 'research-replica', 'publiclyAccessible': False, 'applyImmediately': True}),
    read=ev('DescribeDBInstances', {'dBInstanceIdentifier': 'research-replica'}),
    config_case={'dBInstanceIdentifier': 'research-replica', 'publiclyAccessible': True, 'storageEncrypted': True},
    config_neg={'dBInstanceIdentifier': 'research-replica', 'publiclyAccessible': False, 'storageEncrypted': True}))
A(C('rds.cluster_public', 'public_exposure', 'RDS cluster made publicly accessible', 'AWS::RDS::DBCluster', PX, ['AC-3', 'SC-7'], ['2.3.3'], 'critical',
    config=[dict(when=[w('configuration.publiclyAccessible', equals=True)])], config_case={'dBClusterIdentifier': 'research-aurora', 'publiclyAccessible': True, 'deletionProtection': True, 'backupRetentionPeriod': 35}, config_neg={'dBClusterIdentifier': 'research-aurora', 'publiclyAccessible': False, 'deletionProtection': True, 'backupRetentionPeriod': 35},
    calls=[call(RDS, ['ModifyDBCluster', 'CreateDBCluster'], '{requestParameters.dBClusterIdentifier}', arn='arn:{partition}:rds:{region}:{account}:cluster:{requestParameters.dBClusterIdentifier}', when=[w('requestParameters.publiclyAccessible', equals=True)])],
    case=ev('ModifyDBCluster', {'dBClusterIdentifier': 'research-aurora', 'publiclyAccessible': True, 'applyImmediately': True}),
    neg=ev('ModifyDBCluster', {'dBClusterIdentifier': 'research-aurora', 'publiclyAccessible': False, 'applyImmediately': True}),
    read=ev('DescribeDBClusters', {'dBClusterIdentifier': 'research-aurora'})))
A(C('rds.snapshot_shared', 'public_exposure', 'RDS snapshot shared publicly or outside the organisation', 'AWS::RDS::DBSnapshot', PX, ['AC-3', 'AC-21'], ['2.3.3'], 'critical',
    tf=[dict(type='aws_db_snapshot', when=[w('shared_accounts', outside_accounts=True)], id_attr='db_snapshot_identifier')],
    calls=[call(RDS, ['ModifyDBSnapshotAttribute'], '{requestParameters.dBSnapshotIdentifier}', when=[w('requestParameters.attributeName', equals='restore'), w('requestParameters.valuesToAdd', outside_accounts=True)])],
    case=ev('ModifyDBSnapshotAttribute', {'dBSnapshotIdentifier': 'research-2026-11-19', 'attributeName': 'restore', 'valuesToAdd': ['all']}),
    neg=ev('ModifyDBSnapshotAttribute', {'dBSnapshotIdentifier': 'research-2026-11-19', 'attributeName': 'restore', 'valuesToRemove': ['all']}),
    read=ev('DescribeDBSnapshotAttributes', {'dBSnapshotIdentifier': 'research-2026-11-19'})))
A(C('rds.cluster_snapshot_shared', 'public_exposure', 'RDS cluster snapshot shared publicly or outside the organisation', 'AWS::RDS::DBClusterSnapshot', PX, ['AC-3', 'AC-21'], ['2.3.3'], 'critical',
    calls=[call(RDS, ['ModifyDBClusterSnapshotAttribute'], '{requestParameters.dBClusterSnapshotIdentifier}', when=[w('requestParameters.attributeName', equals='restore'), w('requestParameters.valuesToAdd', outside_accounts=True)])],
    case=ev('ModifyDBClusterSnapshotAttribute', {'dBClusterSnapshotIdentifier': 'research-aurora-2026-11-19', 'attributeName': 'restore', 'valuesToAdd': ['444455556666']}),
    neg=ev('ModifyDBClusterSnapshotAttribute', {'dBClusterSnapshotIdentifier': 'research-aurora-2026-11-19', 'attributeName': 'restore', 'valuesToAdd': ['210987654321']}),
    read=ev('DescribeDBClusterSnapshotAttributes', {'dBClusterSnapshotIdentifier': 'research-aurora-2026-11-19'})))
A(C('ec2.snapshot_shared', 'public_exposure', 'EBS snapshot shared publicly or outside the organisation', 'AWS::EC2::Snapshot', PX, ['AC-3', 'AC-21'], severity='critical',
    tf=[dict(type='aws_snapshot_create_volume_permission', when=[w('account_id', outside_accounts=True)], id_attr='snapshot_id')],
    calls=[call(EC2, ['ModifySnapshotAttribute'], '{requestParameters.snapshotId}', when=[w('requestParameters.createVolumePermission.add.items', outside_accounts=True)])],
    case=ev('ModifySnapshotAttribute', {'snapshotId': 'snap-0b5e12e3c5d8a9f01', 'createVolumePermission': {'add': {'items': [{'group': 'all'}]}}, 'attributeType': 'CREATE_VOLUME_PERMISSION'}),
    neg=ev('ModifySnapshotAttribute', {'snapshotId': 'snap-0b5e12e3c5d8a9f01', 'createVolumePermission': {'remove': {'items': [{'group': 'all'}]}}, 'attributeType': 'CREATE_VOLUME_PERMISSION'}),
    read=ev('DescribeSnapshotAttribute', {'snapshotId': 'snap-0b5e12e3c5d8a9f01', 'attribute': 'createVolumePermission'})))
A(C('ec2.ami_shared', 'public_exposure', 'AMI shared publicly or outside the organisation', 'AWS::EC2::Image', PX, ['AC-3', 'AC-21'],
    tf=[dict(type='aws_ami_launch_permission', when=[w('account_id', outside_accounts=True)], id_attr='image_id'), dict(type='aws_ami_launch_permission', when=[w('group', equals='all')], id_attr='image_id')],
    calls=[call(EC2, ['ModifyImageAttribute'], '{requestParameters.imageId}', when=[w('requestParameters.launchPermission.add.items', outside_accounts=True)])],
    case=ev('ModifyImageAttribute', {'imageId': 'ami-0c1d2e3f4a5b6c7d8', 'launchPermission': {'add': {'items': [{'userId': '444455556666'}]}}, 'attributeType': 'launchPermission'}),
    neg=ev('ModifyImageAttribute', {'imageId': 'ami-0c1d2e3f4a5b6c7d8', 'launchPermission': {'add': {'items': [{'userId': '210987654321'}]}}, 'attributeType': 'launchPermission'}),
    read=ev('DescribeImageAttribute', {'imageId': 'ami-0c1d2e3f4a5b6c7d8', 'attribute': 'launchPermission'})))
A(C('ec2.snapshot_block_public_access_off', 'public_exposure', 'EBS snapshot block public access turned off', 'AWS::EC2::SnapshotBlockPublicAccess', PX, ['AC-3'], severity='high',
    calls=[call(EC2, ['DisableSnapshotBlockPublicAccess'], '{account}'), call(EC2, ['DisableImageBlockPublicAccess'], '{account}')],
    case=ev('DisableSnapshotBlockPublicAccess', {'DisableSnapshotBlockPublicAccessRequest': ''}),
    neg=ev('EnableSnapshotBlockPublicAccess', {'EnableSnapshotBlockPublicAccessRequest': {'State': 'block-all-sharing'}}),
    read=ev('GetSnapshotBlockPublicAccessState', {})))
KMS = 'kms.amazonaws.com'
A(C('kms.policy_public', 'public_exposure', 'KMS key policy grants everyone', 'AWS::KMS::Key', PX, ['AC-3', 'SC-12'], severity='critical',
    tf=[dict(type='aws_kms_key', when=[w('policy', wildcard_principal=True)]), dict(type='aws_kms_key_policy', when=[w('policy', wildcard_principal=True)], id_attr='key_id')],
    calls=[call(KMS, ['PutKeyPolicy'], '{requestParameters.keyId|kms_key}', when=[w('requestParameters.policy', wildcard_principal=True)])],
    case=ev('PutKeyPolicy', {'keyId': '0d5c8e3a-7b21-4f6e-9a44-2c1b0e9d8f7a', 'policyName': 'default', 'policy': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Decrypt","Resource":"*"}]}'}),
    neg=ev('PutKeyPolicy', {'keyId': '0d5c8e3a-7b21-4f6e-9a44-2c1b0e9d8f7a', 'policyName': 'default', 'policy': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"kms:*","Resource":"*"}]}'}),
    read=ev('GetKeyPolicy', {'keyId': '0d5c8e3a-7b21-4f6e-9a44-2c1b0e9d8f7a', 'policyName': 'default'})))
SQS = 'sqs.amazonaws.com'
A(C('sqs.policy_public', 'public_exposure', 'SQS queue policy grants everyone', 'AWS::SQS::Queue', PX, ['AC-3'], severity='high',
    config=[dict(when=[w('configuration.Policy', wildcard_principal=True)])], config_case={'QueueUrl': 'https://sqs.us-east-1.amazonaws.com/123456789012/research-intake', 'Policy': '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}]}'}, config_neg={'QueueUrl': 'https://sqs.us-east-1.amazonaws.com/123456789012/research-intake', 'Policy': '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/research"},"Action":"sqs:SendMessage","Resource":"*"}]}'},
    tf=[dict(type='aws_sqs_queue', when=[w('policy', wildcard_principal=True)])],
    calls=[call(SQS, ['SetQueueAttributes'], '{requestParameters.queueUrl}', when=[w('requestParameters.attributes.Policy', wildcard_principal=True)])],
    case=ev('SetQueueAttributes', {'queueUrl': 'https://sqs.us-east-1.amazonaws.com/123456789012/research-intake', 'attributes': {'Policy': '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*"}]}'}}),
    neg=ev('SetQueueAttributes', {'queueUrl': 'https://sqs.us-east-1.amazonaws.com/123456789012/research-intake', 'attributes': {'Policy': '{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sqs:SendMessage","Resource":"*","Condition":{"ArnEquals":{"aws:SourceArn":"arn:aws:sns:us-east-1:123456789012:research"}}}]}'}}),
    read=ev('GetQueueAttributes', {'queueUrl': 'https://sqs.us-east-1.amazonaws.com/123456789012/research-intake', 'attributeNames': ['Policy']})))
SNS = 'sns.amazonaws.com'
A(C('sns.policy_public', 'public_exposure', 'SNS topic policy grants everyone', 'AWS::SNS::Topic', PX, ['AC-3'], severity='high',
    config=[dict(when=[w('configuration.Policy', wildcard_principal=True)])], config_case={'TopicArn': 'arn:aws:sns:us-east-1:123456789012:research-results', 'Policy': '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"SNS:Subscribe","Resource":"*"}]}'}, config_neg={'TopicArn': 'arn:aws:sns:us-east-1:123456789012:research-results', 'Policy': '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"SNS:Publish","Resource":"*","Condition":{"StringEquals":{"AWS:SourceOwner":"123456789012"}}}]}'},
    tf=[dict(type='aws_sns_topic', when=[w('policy', wildcard_principal=True)])],
    calls=[call(SNS, ['SetTopicAttributes'], '{requestParameters.topicArn}', when=[w('requestParameters.attributeName', equals='Policy'), w('requestParameters.attributeValue', wildcard_principal=True)])],
    case=ev('SetTopicAttributes', {'topicArn': 'arn:aws:sns:us-east-1:123456789012:research-results', 'attributeName': 'Policy', 'attributeValue': '{"Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"SNS:Subscribe","Resource":"*"}]}'}),
    neg=ev('SetTopicAttributes', {'topicArn': 'arn:aws:sns:us-east-1:123456789012:research-results', 'attributeName': 'DisplayName', 'attributeValue': 'Research results'}),
    read=ev('GetTopicAttributes', {'topicArn': 'arn:aws:sns:us-east-1:123456789012:research-results'})))
A(C('ecr.policy_public', 'public_exposure', 'ECR repository policy grants everyone', 'AWS::ECR::Repository', PX, ['AC-3', 'CM-14'], severity='high',
    tf=[dict(type='aws_ecr_repository_policy', when=[w('policy', wildcard_principal=True)], id_attr='repository')],
    config=[dict(when=[w('configuration.RepositoryPolicyText', wildcard_principal=True)])], config_case={'RepositoryName': 'research/ingest', 'RepositoryPolicyText': {'Version': '2012-10-17', 'Statement': [{'Sid': 'pull', 'Effect': 'Allow', 'Principal': '*', 'Action': ['ecr:BatchGetImage']}]}}, config_neg={'RepositoryName': 'research/ingest', 'RepositoryPolicyText': {'Version': '2012-10-17', 'Statement': [{'Sid': 'pull', 'Effect': 'Allow', 'Principal': {'AWS': 'arn:aws:iam::123456789012:role/ci'}, 'Action': ['ecr:BatchGetImage']}]}},
    calls=[call('ecr.amazonaws.com', ['SetRepositoryPolicy'], '{requestParameters.repositoryName}', when=[w('requestParameters.policyText', wildcard_principal=True)])],
    case=ev('SetRepositoryPolicy', {'repositoryName': 'research/ingest', 'policyText': '{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":"*","Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}'}),
    neg=ev('SetRepositoryPolicy', {'repositoryName': 'research/ingest', 'policyText': '{"Version":"2012-10-17","Statement":[{"Sid":"pull","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/ci"},"Action":["ecr:BatchGetImage"]}]}'}),
    read=ev('GetRepositoryPolicy', {'repositoryName': 'research/ingest'})))
LAMBDA = 'lambda.amazonaws.com'
A(C('lambda.permission_public', 'public_exposure', 'Lambda function invocable by anyone', 'AWS::Lambda::Function', PX, ['AC-3'], severity='high',
    tf=[dict(type='aws_lambda_permission', when=[w('principal', equals='*')], unless=[w('source_arn', present=True), w('source_account', present=True), w('principal_org_id', present=True)], id_attr='function_name'), dict(type='aws_lambda_function_url', when=[w('authorization_type', equals='NONE')], id_attr='function_name')],
    config=[dict(when=[w('supplementaryConfiguration.Policy', wildcard_principal=True)])], config_case=('supp', {'Policy': '{"Version":"2012-10-17","Statement":[{"Sid":"open","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:research-export"}]}'}), config_neg=('supp', {'Policy': '{"Version":"2012-10-17","Statement":[{"Sid":"sns","Effect":"Allow","Principal":{"Service":"sns.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:123456789012:function:research-export"}]}'}),
    calls=[call(LAMBDA, ['AddPermission20150331v2', 'AddPermission20150331'], '{requestParameters.functionName|arn_name}', when=[w('requestParameters.principal', equals='*')],
                unless=[w('requestParameters.sourceArn', present=True), w('requestParameters.sourceAccount', present=True), w('requestParameters.principalOrgID', present=True)]),
           call(LAMBDA, ['CreateFunctionUrlConfig20211031', 'UpdateFunctionUrlConfig20211031'], '{requestParameters.functionName|arn_name}', when=[w('requestParameters.authType', equals='NONE')])],
    case=ev('AddPermission20150331v2', {'functionName': 'research-export', 'statementId': 'open', 'action': 'lambda:InvokeFunction', 'principal': '*'}),
    neg=ev('AddPermission20150331v2', {'functionName': 'research-export', 'statementId': 'sns', 'action': 'lambda:InvokeFunction', 'principal': 'sns.amazonaws.com', 'sourceArn': 'arn:aws:sns:us-east-1:123456789012:research-results'}),
    read=ev('GetPolicy20150331v2', {'functionName': 'research-export'})))
A(C('secretsmanager.policy_public', 'public_exposure', 'Secret resource policy grants everyone or another account', 'AWS::SecretsManager::Secret', PX, ['AC-3', 'IA-5'], severity='critical',
    tf=[dict(type='aws_secretsmanager_secret_policy', when=[w('policy', principal_outside=True)], id_attr='secret_arn')],
    calls=[call('secretsmanager.amazonaws.com', ['PutResourcePolicy'], '{requestParameters.secretId|arn_name}', when=[w('requestParameters.resourcePolicy', principal_outside=True)])],
    case=ev('PutResourcePolicy', {'secretId': 'research/db', 'resourcePolicy': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}'}),
    neg=ev('PutResourcePolicy', {'secretId': 'research/db', 'resourcePolicy': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/research"},"Action":"secretsmanager:GetSecretValue","Resource":"*"}]}'}),
    read=ev('GetResourcePolicy', {'secretId': 'research/db'})))
A(C('opensearch.policy_public', 'public_exposure', 'OpenSearch domain access policy grants everyone', 'AWS::OpenSearch::Domain', PX, ['AC-3'], severity='critical',
    tf=[dict(type='aws_opensearch_domain_policy', when=[w('access_policies', wildcard_principal=True)], id_attr='domain_name')],
    config=[dict(when=[w('configuration.AccessPolicies', wildcard_principal=True)])], config_case={'DomainName': 'research-search', 'AccessPolicies': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"es:*","Resource":"*"}]}'}, config_neg={'DomainName': 'research-search', 'AccessPolicies': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/search"},"Action":"es:*","Resource":"*"}]}'},
    calls=[call('es.amazonaws.com', ['UpdateDomainConfig', 'UpdateElasticsearchDomainConfig', 'CreateDomain'], '{requestParameters.domainName}', when=[w('requestParameters.accessPolicies', wildcard_principal=True)])],
    case=ev('UpdateDomainConfig', {'domainName': 'research-search', 'accessPolicies': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"es:*","Resource":"arn:aws:es:us-east-1:123456789012:domain/research-search/*"}]}'}),
    neg=ev('UpdateDomainConfig', {'domainName': 'research-search', 'accessPolicies': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"es:*","Resource":"arn:aws:es:us-east-1:123456789012:domain/research-search/*","Condition":{"IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}}]}'}),
    read=ev('DescribeDomainConfig', {'domainName': 'research-search'})))
A(C('redshift.cluster_public', 'public_exposure', 'Redshift cluster made publicly accessible', 'AWS::Redshift::Cluster', PX, ['AC-3', 'SC-7'], severity='critical',
    tf=[dict(type='aws_redshift_cluster', when=[w('publicly_accessible', equals=True)], id_attr='cluster_identifier')],
    calls=[call('redshift.amazonaws.com', ['ModifyCluster', 'CreateCluster'], '{requestParameters.clusterIdentifier}', when=[w('requestParameters.publiclyAccessible', equals=True)])],
    config=[dict(when=[w('configuration.publiclyAccessible', equals=True)])],
    case=ev('ModifyCluster', {'clusterIdentifier': 'research-dw', 'publiclyAccessible': True}),
    neg=ev('ModifyCluster', {'clusterIdentifier': 'research-dw', 'publiclyAccessible': False}),
    read=ev('DescribeClusters', {'clusterIdentifier': 'research-dw'}),
    config_case={'clusterIdentifier': 'research-dw', 'publiclyAccessible': True, 'encrypted': True},
    config_neg={'clusterIdentifier': 'research-dw', 'publiclyAccessible': False, 'encrypted': True}))

# ------------------------------------------------------------------ integrity_weakened
IN = ['164.312(c)(1)', '164.308(a)(7)(ii)(A)']
A(C('s3.versioning_suspended', 'integrity_weakened', 'S3 bucket versioning suspended', 'AWS::S3::Bucket', IN, ['CP-9', 'SI-12'], ['2.1.3'], 'high',
    tf=[dict(type='aws_s3_bucket_versioning', when=[w('versioning_configuration.status', equals='Suspended')])],
    calls=[call(S3, ['PutBucketVersioning'], '{requestParameters.bucketName}', when=[w('requestParameters.VersioningConfiguration.Status', equals='Suspended')])],
    config=[dict(when=[w('supplementaryConfiguration.BucketVersioningConfiguration.status', equals='Suspended')])],
    case=ev('PutBucketVersioning', {'bucketName': 'stmarys-research-exports', 'versioning': '', 'VersioningConfiguration': {'Status': 'Suspended', 'xmlns': 'http://s3.amazonaws.com/doc/2006-03-01/'}}),
    neg=ev('PutBucketVersioning', {'bucketName': 'stmarys-research-exports', 'versioning': '', 'VersioningConfiguration': {'Status': 'Enabled', 'xmlns': 'http://s3.amazonaws.com/doc/2006-03-01/'}}),
    read=ev('GetBucketVersioning', {'bucketName': 'stmarys-research-exports', 'versioning': ''}),
    config_case=('supp', {'BucketVersioningConfiguration': {'status': 'Suspended', 'isMfaDeleteEnabled': None}}),
    config_neg=('supp', {'BucketVersioningConfiguration': {'status': 'Enabled', 'isMfaDeleteEnabled': None}})))
A(C('s3.mfa_delete_off', 'integrity_weakened', 'S3 MFA delete turned off', 'AWS::S3::Bucket', IN, ['CP-9', 'IA-2'], ['2.1.2'],
    calls=[call(S3, ['PutBucketVersioning'], '{requestParameters.bucketName}', when=[w('requestParameters.VersioningConfiguration.MfaDelete', equals='Disabled')])],
    case=ev('PutBucketVersioning', {'bucketName': 'stmarys-research-exports', 'versioning': '', 'VersioningConfiguration': {'Status': 'Enabled', 'MfaDelete': 'Disabled'}}),
    neg=ev('PutBucketVersioning', {'bucketName': 'stmarys-research-exports', 'versioning': '', 'VersioningConfiguration': {'Status': 'Enabled', 'MfaDelete': 'Enabled'}}),
    read=ev('GetBucketVersioning', {'bucketName': 'stmarys-research-exports', 'versioning': ''})))
A(C('s3.replication_removed', 'integrity_weakened', 'S3 replication removed', 'AWS::S3::Bucket', IN, ['CP-6', 'CP-9'],
    calls=[call(S3, ['DeleteBucketReplication'], '{requestParameters.bucketName}')],
    case=ev('DeleteBucketReplication', {'bucketName': 'stmarys-research-exports', 'replication': ''}),
    neg=ev('PutBucketReplication', {'bucketName': 'stmarys-research-exports', 'replication': '', 'ReplicationConfiguration': {'Role': 'arn:aws:iam::123456789012:role/replication', 'Rule': {'Status': 'Enabled', 'Destination': {'Bucket': 'arn:aws:s3:::stmarys-research-dr'}}}}),
    read=ev('GetBucketReplication', {'bucketName': 'stmarys-research-exports', 'replication': ''})))
A(C('s3.object_lock_weakened', 'integrity_weakened', 'S3 Object Lock default retention weakened', 'AWS::S3::Bucket', IN, ['AU-9', 'SI-12'],
    config=[dict(when=[w('supplementaryConfiguration.ObjectLockConfiguration.rule.defaultRetention.mode', equals='GOVERNANCE')])], config_case=('supp', {'ObjectLockConfiguration': {'objectLockEnabled': 'Enabled', 'rule': {'defaultRetention': {'mode': 'GOVERNANCE', 'days': 1}}}}), config_neg=('supp', {'ObjectLockConfiguration': {'objectLockEnabled': 'Enabled', 'rule': {'defaultRetention': {'mode': 'COMPLIANCE', 'years': 6}}}}),
    tf=[dict(type='aws_s3_bucket_object_lock_configuration', when=[w('rule.default_retention.mode', equals='GOVERNANCE')], id_attr='bucket')],
    calls=[call(S3, ['PutObjectLockConfiguration'], '{requestParameters.bucketName}', when=[w('requestParameters.ObjectLockConfiguration.Rule.DefaultRetention.Mode', equals='GOVERNANCE')]),
           call(S3, ['PutObjectLockConfiguration'], '{requestParameters.bucketName}', when=[w('requestParameters.ObjectLockConfiguration.Rule', present=False)])],
    case=ev('PutObjectLockConfiguration', {'bucketName': 'stmarys-research-exports', 'object-lock': '', 'ObjectLockConfiguration': {'ObjectLockEnabled': 'Enabled', 'Rule': {'DefaultRetention': {'Mode': 'GOVERNANCE', 'Days': 1}}}}),
    neg=ev('PutObjectLockConfiguration', {'bucketName': 'stmarys-research-exports', 'object-lock': '', 'ObjectLockConfiguration': {'ObjectLockEnabled': 'Enabled', 'Rule': {'DefaultRetention': {'Mode': 'COMPLIANCE', 'Years': 6}}}}),
    read=ev('GetObjectLockConfiguration', {'bucketName': 'stmarys-research-exports', 'object-lock': ''})))
A(C('rds.deletion_protection_off', 'integrity_weakened', 'RDS instance deletion protection turned off', 'AWS::RDS::DBInstance', IN, ['CP-9', 'SI-12'], ['2.3.1'],
    config=[dict(when=[w('configuration.deletionProtection', equals=False)])], config_case={'dBInstanceIdentifier': 'research-replica', 'deletionProtection': False, 'backupRetentionPeriod': 35, 'publiclyAccessible': False}, config_neg={'dBInstanceIdentifier': 'research-replica', 'deletionProtection': True, 'backupRetentionPeriod': 35, 'publiclyAccessible': False},
    tf=[dict(type='aws_db_instance', when=[w('deletion_protection', equals=False)])],
    calls=[call(RDS, ['ModifyDBInstance'], '{requestParameters.dBInstanceIdentifier}', arn='arn:{partition}:rds:{region}:{account}:db:{requestParameters.dBInstanceIdentifier}', when=[w('requestParameters.deletionProtection', equals=False)])],
    case=ev('ModifyDBInstance', {'dBInstanceIdentifier': 'research-replica', 'deletionProtection': False, 'applyImmediately': True}),
    neg=ev('ModifyDBInstance', {'dBInstanceIdentifier': 'research-replica', 'deletionProtection': True, 'applyImmediately': True}),
    read=ev('DescribeDBInstances', {'dBInstanceIdentifier': 'research-replica'})))
A(C('rds.cluster_deletion_protection_off', 'integrity_weakened', 'RDS cluster deletion protection turned off', 'AWS::RDS::DBCluster', IN, ['CP-9', 'SI-12'],
    config=[dict(when=[w('configuration.deletionProtection', equals=False)])], config_case={'dBClusterIdentifier': 'research-aurora', 'deletionProtection': False, 'backupRetentionPeriod': 35}, config_neg={'dBClusterIdentifier': 'research-aurora', 'deletionProtection': True, 'backupRetentionPeriod': 35},
    tf=[dict(type='aws_rds_cluster', when=[w('deletion_protection', equals=False)])],
    calls=[call(RDS, ['ModifyDBCluster'], '{requestParameters.dBClusterIdentifier}', arn='arn:{partition}:rds:{region}:{account}:cluster:{requestParameters.dBClusterIdentifier}', when=[w('requestParameters.deletionProtection', equals=False)])],
    case=ev('ModifyDBCluster', {'dBClusterIdentifier': 'research-aurora', 'deletionProtection': False, 'applyImmediately': True}),
    neg=ev('ModifyDBCluster', {'dBClusterIdentifier': 'research-aurora', 'deletionProtection': True, 'applyImmediately': True}),
    read=ev('DescribeDBClusters', {'dBClusterIdentifier': 'research-aurora'})))
A(C('rds.backup_retention_cut', 'integrity_weakened', 'RDS automated backups turned off or retention cut below 7 days', 'AWS::RDS::DBInstance', IN, ['CP-9'], severity='high',
    tf=[dict(type='aws_db_instance', when=[w('backup_retention_period', below=7)])],
    calls=[call(RDS, ['ModifyDBInstance'], '{requestParameters.dBInstanceIdentifier}', arn='arn:{partition}:rds:{region}:{account}:db:{requestParameters.dBInstanceIdentifier}', when=[w('requestParameters.backupRetentionPeriod', below=7)])],
    config=[dict(when=[w('configuration.backupRetentionPeriod', below=7)])],
    case=ev('ModifyDBInstance', {'dBInstanceIdentifier': 'research-replica', 'backupRetentionPeriod': 0, 'applyImmediately': True}),
    neg=ev('ModifyDBInstance', {'dBInstanceIdentifier': 'research-replica', 'backupRetentionPeriod': 35, 'applyImmediately': True}),
    read=ev('DescribeDBInstances', {'dBInstanceIdentifier': 'research-replica'}),
    config_case={'dBInstanceIdentifier': 'research-replica', 'backupRetentionPeriod': 1, 'publiclyAccessible': False},
    config_neg={'dBInstanceIdentifier': 'research-replica', 'backupRetentionPeriod': 35, 'publiclyAccessible': False}))
A(C('rds.cluster_backup_retention_cut', 'integrity_weakened', 'RDS cluster backup retention cut below 7 days', 'AWS::RDS::DBCluster', IN, ['CP-9'],
    config=[dict(when=[w('configuration.backupRetentionPeriod', below=7)])], config_case={'dBClusterIdentifier': 'research-aurora', 'deletionProtection': True, 'backupRetentionPeriod': 1}, config_neg={'dBClusterIdentifier': 'research-aurora', 'deletionProtection': True, 'backupRetentionPeriod': 35},
    tf=[dict(type='aws_rds_cluster', when=[w('backup_retention_period', below=7)])],
    calls=[call(RDS, ['ModifyDBCluster'], '{requestParameters.dBClusterIdentifier}', arn='arn:{partition}:rds:{region}:{account}:cluster:{requestParameters.dBClusterIdentifier}', when=[w('requestParameters.backupRetentionPeriod', below=7)])],
    case=ev('ModifyDBCluster', {'dBClusterIdentifier': 'research-aurora', 'backupRetentionPeriod': 1, 'applyImmediately': True}),
    neg=ev('ModifyDBCluster', {'dBClusterIdentifier': 'research-aurora', 'backupRetentionPeriod': 35, 'applyImmediately': True}),
    read=ev('DescribeDBClusters', {'dBClusterIdentifier': 'research-aurora'})))
A(C('rds.automated_backups_deleted', 'integrity_weakened', 'RDS automated backups deleted', 'AWS::RDS::DBInstance', IN, ['CP-9'], severity='high',
    calls=[call(RDS, ['DeleteDBInstanceAutomatedBackup'], '{requestParameters.dbiResourceId}'), call(RDS, ['DeleteDBClusterAutomatedBackup'], '{requestParameters.dbClusterResourceId}')],
    case=ev('DeleteDBInstanceAutomatedBackup', {'dbiResourceId': 'db-7HJQY3ZK2M4N5P6Q7R8S9T0UVW'}),
    neg=ev('StartDBInstanceAutomatedBackupsReplication', {'sourceDBInstanceArn': 'arn:aws:rds:us-east-1:123456789012:db:research-replica', 'backupRetentionPeriod': 7}),
    read=ev('DescribeDBInstanceAutomatedBackups', {'dbiResourceId': 'db-7HJQY3ZK2M4N5P6Q7R8S9T0UVW'})))
A(C('rds.deleted_without_final_snapshot', 'integrity_weakened', 'RDS database deleted without a final snapshot', 'AWS::RDS::DBInstance', IN, ['CP-9', 'SI-12'], severity='high',
    tf=[dict(type='aws_db_instance', when=[w('skip_final_snapshot', equals=True)])],
    calls=[call(RDS, ['DeleteDBInstance'], '{requestParameters.dBInstanceIdentifier}', arn='arn:{partition}:rds:{region}:{account}:db:{requestParameters.dBInstanceIdentifier}', when=[w('requestParameters.skipFinalSnapshot', equals=True)]),
           call(RDS, ['DeleteDBCluster'], '{requestParameters.dBClusterIdentifier}', arn='arn:{partition}:rds:{region}:{account}:cluster:{requestParameters.dBClusterIdentifier}', when=[w('requestParameters.skipFinalSnapshot', equals=True)])],
    case=ev('DeleteDBInstance', {'dBInstanceIdentifier': 'research-replica', 'skipFinalSnapshot': True, 'deleteAutomatedBackups': True}),
    neg=ev('DeleteDBInstance', {'dBInstanceIdentifier': 'research-replica', 'skipFinalSnapshot': False, 'finalDBSnapshotIdentifier': 'research-replica-final'}),
    read=ev('DescribeDBInstances', {'dBInstanceIdentifier': 'research-replica'})))
BK = 'backup.amazonaws.com'
A(C('backup.vault_deleted', 'integrity_weakened', 'AWS Backup vault deleted', 'AWS::Backup::BackupVault', IN, ['CP-9'], severity='high',
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'BackupVaultName': 'research-vault'},
    calls=[call(BK, ['DeleteBackupVault'], '{requestParameters.backupVaultName}')],
    case=ev('DeleteBackupVault', {'backupVaultName': 'research-vault'}),
    neg=ev('CreateBackupVault', {'backupVaultName': 'research-vault', 'encryptionKeyArn': 'arn:aws:kms:us-east-1:123456789012:key/0d5c8e3a-7b21-4f6e-9a44-2c1b0e9d8f7a'}),
    read=ev('DescribeBackupVault', {'backupVaultName': 'research-vault'})))
A(C('backup.plan_deleted', 'integrity_weakened', 'AWS Backup plan or selection deleted', 'AWS::Backup::BackupPlan', IN, ['CP-9'], severity='high',
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'BackupPlanId': '8f4e2a1c-3b5d-4e6f-9a0b-1c2d3e4f5a6b'},
    calls=[call(BK, ['DeleteBackupPlan', 'DeleteBackupSelection'], '{requestParameters.backupPlanId}')],
    case=ev('DeleteBackupPlan', {'backupPlanId': '8f4e2a1c-3b5d-4e6f-9a0b-1c2d3e4f5a6b'}),
    neg=ev('CreateBackupSelection', {'backupPlanId': '8f4e2a1c-3b5d-4e6f-9a0b-1c2d3e4f5a6b', 'backupSelection': {'selectionName': 'phi', 'iamRoleArn': 'arn:aws:iam::123456789012:role/backup'}}),
    read=ev('GetBackupPlan', {'backupPlanId': '8f4e2a1c-3b5d-4e6f-9a0b-1c2d3e4f5a6b'})))
A(C('backup.recovery_point_deleted', 'integrity_weakened', 'AWS Backup recovery point deleted', 'AWS::Backup::BackupVault', IN, ['CP-9'], severity='high',
    calls=[call(BK, ['DeleteRecoveryPoint'], '{requestParameters.backupVaultName}')],
    case=ev('DeleteRecoveryPoint', {'backupVaultName': 'research-vault', 'recoveryPointArn': 'arn:aws:rds:us-east-1:123456789012:snapshot:awsbackup:job-1'}),
    neg=ev('StartBackupJob', {'backupVaultName': 'research-vault', 'resourceArn': 'arn:aws:rds:us-east-1:123456789012:db:research-replica', 'iamRoleArn': 'arn:aws:iam::123456789012:role/backup'}),
    read=ev('ListRecoveryPointsByBackupVault', {'backupVaultName': 'research-vault'})))
A(C('backup.vault_lock_removed', 'integrity_weakened', 'AWS Backup vault lock removed', 'AWS::Backup::BackupVault', IN, ['CP-9', 'AU-9'], severity='high',
    calls=[call(BK, ['DeleteBackupVaultLockConfiguration'], '{requestParameters.backupVaultName}')],
    case=ev('DeleteBackupVaultLockConfiguration', {'backupVaultName': 'research-vault'}),
    neg=ev('PutBackupVaultLockConfiguration', {'backupVaultName': 'research-vault', 'minRetentionDays': 2190}),
    read=ev('DescribeBackupVault', {'backupVaultName': 'research-vault'})))
DDB = 'dynamodb.amazonaws.com'
A(C('dynamodb.pitr_off', 'integrity_weakened', 'DynamoDB point-in-time recovery turned off', 'AWS::DynamoDB::Table', IN, ['CP-9'],
    config=[dict(when=[w('supplementaryConfiguration.ContinuousBackupsDescription.pointInTimeRecoveryDescription.pointInTimeRecoveryStatus', equals='DISABLED')])], config_case=('supp', {'ContinuousBackupsDescription': {'continuousBackupsStatus': 'ENABLED', 'pointInTimeRecoveryDescription': {'pointInTimeRecoveryStatus': 'DISABLED'}}}), config_neg=('supp', {'ContinuousBackupsDescription': {'continuousBackupsStatus': 'ENABLED', 'pointInTimeRecoveryDescription': {'pointInTimeRecoveryStatus': 'ENABLED'}}}),
    tf=[dict(type='aws_dynamodb_table', when=[w('point_in_time_recovery.enabled', equals=False)])],
    calls=[call(DDB, ['UpdateContinuousBackups'], '{requestParameters.tableName}', when=[w('requestParameters.pointInTimeRecoverySpecification.pointInTimeRecoveryEnabled', equals=False)])],
    case=ev('UpdateContinuousBackups', {'tableName': 'research-consents', 'pointInTimeRecoverySpecification': {'pointInTimeRecoveryEnabled': False}}),
    neg=ev('UpdateContinuousBackups', {'tableName': 'research-consents', 'pointInTimeRecoverySpecification': {'pointInTimeRecoveryEnabled': True}}),
    read=ev('DescribeContinuousBackups', {'tableName': 'research-consents'})))
A(C('dynamodb.deletion_protection_off', 'integrity_weakened', 'DynamoDB table deletion protection turned off', 'AWS::DynamoDB::Table', IN, ['CP-9', 'SI-12'],
    tf=[dict(type='aws_dynamodb_table', when=[w('deletion_protection_enabled', equals=False)])],
    config=[dict(when=[w('configuration.deletionProtectionEnabled', equals=False)])], config_case={'tableName': 'research-consents', 'deletionProtectionEnabled': False}, config_neg={'tableName': 'research-consents', 'deletionProtectionEnabled': True},
    calls=[call(DDB, ['UpdateTable'], '{requestParameters.tableName}', when=[w('requestParameters.deletionProtectionEnabled', equals=False)])],
    case=ev('UpdateTable', {'tableName': 'research-consents', 'deletionProtectionEnabled': False}),
    neg=ev('UpdateTable', {'tableName': 'research-consents', 'deletionProtectionEnabled': True}),
    read=ev('DescribeTable', {'tableName': 'research-consents'})))
A(C('ec2.termination_protection_off', 'integrity_weakened', 'EC2 termination protection turned off', 'AWS::EC2::Instance', IN, ['CP-9'], severity='medium',
    calls=[call(EC2, ['ModifyInstanceAttribute'], '{requestParameters.instanceId}', when=[w('requestParameters.disableApiTermination.value', equals=False)])],
    case=ev('ModifyInstanceAttribute', {'instanceId': 'i-0a1b2c3d4e5f60718', 'disableApiTermination': {'value': False}}),
    neg=ev('ModifyInstanceAttribute', {'instanceId': 'i-0a1b2c3d4e5f60718', 'disableApiTermination': {'value': True}}),
    read=ev('DescribeInstanceAttribute', {'instanceId': 'i-0a1b2c3d4e5f60718', 'attribute': 'disableApiTermination'})))
A(C('efs.backup_policy_off', 'integrity_weakened', 'EFS automatic backups turned off', 'AWS::EFS::FileSystem', IN, ['CP-9'],
    tf=[dict(type='aws_efs_backup_policy', when=[w('backup_policy.status', equals='DISABLED')], id_attr='file_system_id')],
    config=[dict(when=[w('configuration.BackupPolicy.Status', equals='DISABLED')])], config_case={'FileSystemId': 'fs-0a1b2c3d4e5f60718', 'BackupPolicy': {'Status': 'DISABLED'}, 'Encrypted': True}, config_neg={'FileSystemId': 'fs-0a1b2c3d4e5f60718', 'BackupPolicy': {'Status': 'ENABLED'}, 'Encrypted': True},
    calls=[call('elasticfilesystem.amazonaws.com', ['PutBackupPolicy'], '{requestParameters.fileSystemId}', when=[w('requestParameters.backupPolicy.status', equals='DISABLED')])],
    case=ev('PutBackupPolicy', {'fileSystemId': 'fs-0a1b2c3d4e5f60718', 'backupPolicy': {'status': 'DISABLED'}}),
    neg=ev('PutBackupPolicy', {'fileSystemId': 'fs-0a1b2c3d4e5f60718', 'backupPolicy': {'status': 'ENABLED'}}),
    read=ev('DescribeBackupPolicy', {'fileSystemId': 'fs-0a1b2c3d4e5f60718'})))
A(C('elb.deletion_protection_off', 'integrity_weakened', 'Load balancer deletion protection turned off', 'AWS::ElasticLoadBalancingV2::LoadBalancer', ['164.312(c)(1)'], ['CP-9'], severity='low',
    calls=[call(ELB, ['ModifyLoadBalancerAttributes'], '{requestParameters.loadBalancerArn|arn_name}', arn='{requestParameters.loadBalancerArn}', when=[w('requestParameters.attributes', has={'key': 'deletion_protection.enabled', 'value': 'false'})])],
    case=ev('ModifyLoadBalancerAttributes', {'loadBalancerArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188', 'attributes': [{'key': 'deletion_protection.enabled', 'value': 'false'}]}),
    neg=ev('ModifyLoadBalancerAttributes', {'loadBalancerArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188', 'attributes': [{'key': 'deletion_protection.enabled', 'value': 'true'}]}),
    read=ev('DescribeLoadBalancerAttributes', {'loadBalancerArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188'})))

# ------------------------------------------------------------------ network_exposure
NX = ['164.312(e)(1)', '164.308(a)(1)(ii)(B)']
def ssh(cidr, port=22):
    return {'groupId': 'sg-0f1e2d3c4b5a69788', 'ipPermissions': {'items': [{'ipProtocol': 'tcp', 'fromPort': port, 'toPort': port, 'groups': {}, 'ipRanges': {'items': [{'cidrIp': cidr}]}, 'ipv6Ranges': {}, 'prefixListIds': {}}]}}
A(C('ec2.security_group_admin_port_open', 'network_exposure', 'Security group opens an administrative or database port to the internet', 'AWS::EC2::SecurityGroup', NX, ['SC-7', 'AC-17'], ['5.2', '5.3'], 'high',
    calls=[call(EC2, ['AuthorizeSecurityGroupIngress'], '{requestParameters.groupId}', when=[w('requestParameters.ipPermissions.items', public_ingress=ADMIN_PORTS)]),
           call(EC2, ['ModifySecurityGroupRules'], '{requestParameters.ModifySecurityGroupRulesRequest.GroupId}', when=[w('requestParameters.ModifySecurityGroupRulesRequest.SecurityGroupRule.SecurityGroupRule', public_ingress=ADMIN_PORTS)])],
    config=[dict(when=[w('configuration.ipPermissions', public_ingress=ADMIN_PORTS)])],
    tf=[dict(type='aws_security_group', when=[w('ingress', public_ingress=ADMIN_PORTS)]),
        dict(type='aws_vpc_security_group_ingress_rule', when=[w('', public_ingress=ADMIN_PORTS)], id_attr='security_group_id', keep=['cidr_ipv4', 'cidr_ipv6', 'from_port', 'to_port', 'ip_protocol']),
        dict(type='aws_security_group_rule', when=[w('', public_ingress=ADMIN_PORTS)], unless=[w('type', equals='egress')], id_attr='security_group_id', keep=['type', 'cidr_blocks', 'ipv6_cidr_blocks', 'from_port', 'to_port', 'protocol'])],
    case=ev('AuthorizeSecurityGroupIngress', ssh('0.0.0.0/0')),
    neg=ev('AuthorizeSecurityGroupIngress', ssh('0.0.0.0/0', 443)),
    read=ev('DescribeSecurityGroups', {'securityGroupIdSet': {'items': [{'groupId': 'sg-0f1e2d3c4b5a69788'}]}}),
    config_case={'groupId': 'sg-0f1e2d3c4b5a69788', 'groupName': 'research-bastion', 'ipPermissions': [{'ipProtocol': 'tcp', 'fromPort': 3389, 'toPort': 3389, 'ipv4Ranges': [{'cidrIp': '0.0.0.0/0'}], 'ipRanges': ['0.0.0.0/0']}]},
    config_neg={'groupId': 'sg-0f1e2d3c4b5a69788', 'groupName': 'research-bastion', 'ipPermissions': [{'ipProtocol': 'tcp', 'fromPort': 443, 'toPort': 443, 'ipv4Ranges': [{'cidrIp': '0.0.0.0/0'}], 'ipRanges': ['0.0.0.0/0']}]}))
A(C('ec2.network_acl_open', 'network_exposure', 'Network ACL allows an administrative or database port from the internet', 'AWS::EC2::NetworkAcl', NX, ['SC-7'], ['5.1'],
    tf=[dict(type='aws_network_acl_rule', when=[w('', public_ingress=ADMIN_PORTS)], id_attr='network_acl_id', keep=['cidr_block', 'ipv6_cidr_block', 'from_port', 'to_port', 'protocol', 'rule_action', 'egress'])],
    config=[dict(when=[w('configuration.entries', public_ingress=ADMIN_PORTS)])], config_case={'networkAclId': 'acl-0a1b2c3d4e5f60718', 'entries': [{'ruleNumber': 90, 'protocol': '6', 'ruleAction': 'allow', 'egress': False, 'cidrBlock': '0.0.0.0/0', 'portRange': {'from': 3389, 'to': 3389}}]}, config_neg={'networkAclId': 'acl-0a1b2c3d4e5f60718', 'entries': [{'ruleNumber': 90, 'protocol': '6', 'ruleAction': 'allow', 'egress': False, 'cidrBlock': '0.0.0.0/0', 'portRange': {'from': 443, 'to': 443}}]},
    calls=[call(EC2, ['CreateNetworkAclEntry', 'ReplaceNetworkAclEntry'], '{requestParameters.networkAclId}', when=[w('requestParameters', public_ingress=ADMIN_PORTS)])],
    case=ev('CreateNetworkAclEntry', {'networkAclId': 'acl-0a1b2c3d4e5f60718', 'ruleNumber': 90, 'egress': False, 'ruleAction': 'allow', 'protocol': '6', 'cidrBlock': '0.0.0.0/0', 'portRange': {'from': 3389, 'to': 3389}}),
    neg=ev('CreateNetworkAclEntry', {'networkAclId': 'acl-0a1b2c3d4e5f60718', 'ruleNumber': 90, 'egress': False, 'ruleAction': 'deny', 'protocol': '6', 'cidrBlock': '0.0.0.0/0', 'portRange': {'from': 3389, 'to': 3389}}),
    read=ev('DescribeNetworkAcls', {'networkAclIdSet': {'items': [{'networkAclId': 'acl-0a1b2c3d4e5f60718'}]}})))
A(C('ec2.route_to_internet_gateway', 'network_exposure', 'Route to an internet gateway added', 'AWS::EC2::RouteTable', NX, ['SC-7'], severity='medium',
    config=[dict(when=[w('configuration.routes.gatewayId', contains='igw-')])], config_case={'routeTableId': 'rtb-0a1b2c3d4e5f60718', 'routes': [{'destinationCidrBlock': '0.0.0.0/0', 'gatewayId': 'igw-0a1b2c3d4e5f60718', 'state': 'active'}]}, config_neg={'routeTableId': 'rtb-0a1b2c3d4e5f60718', 'routes': [{'destinationCidrBlock': '0.0.0.0/0', 'natGatewayId': 'nat-0a1b2c3d4e5f60718', 'state': 'active'}]},
    tf=[dict(type='aws_route', when=[w('gateway_id', contains='igw-')], id_attr='route_table_id')],
    calls=[call(EC2, ['CreateRoute', 'ReplaceRoute'], '{requestParameters.routeTableId}', when=[w('requestParameters.gatewayId', contains='igw-')])],
    case=ev('CreateRoute', {'routeTableId': 'rtb-0a1b2c3d4e5f60718', 'destinationCidrBlock': '0.0.0.0/0', 'gatewayId': 'igw-0a1b2c3d4e5f60718'}),
    neg=ev('CreateRoute', {'routeTableId': 'rtb-0a1b2c3d4e5f60718', 'destinationCidrBlock': '0.0.0.0/0', 'natGatewayId': 'nat-0a1b2c3d4e5f60718'}),
    read=ev('DescribeRouteTables', {'routeTableIdSet': {'items': [{'routeTableId': 'rtb-0a1b2c3d4e5f60718'}]}})))
A(C('ec2.internet_gateway_attached', 'network_exposure', 'Internet gateway attached to a VPC', 'AWS::EC2::InternetGateway', NX, ['SC-7'], severity='medium',
    config=[dict(when=[w('configuration.attachments.vpcId', present=True)])], config_case={'internetGatewayId': 'igw-0a1b2c3d4e5f60718', 'attachments': [{'state': 'available', 'vpcId': 'vpc-0a1b2c3d4e5f60718'}]}, config_neg={'internetGatewayId': 'igw-0a1b2c3d4e5f60718', 'attachments': []},
    tf=[dict(type='aws_internet_gateway', when=[w('vpc_id', present=True)]), dict(type='aws_internet_gateway_attachment', when=[w('vpc_id', present=True)], id_attr='internet_gateway_id')],
    calls=[call(EC2, ['AttachInternetGateway'], '{requestParameters.internetGatewayId}')],
    case=ev('AttachInternetGateway', {'internetGatewayId': 'igw-0a1b2c3d4e5f60718', 'vpcId': 'vpc-0a1b2c3d4e5f60718'}),
    neg=ev('DetachInternetGateway', {'internetGatewayId': 'igw-0a1b2c3d4e5f60718', 'vpcId': 'vpc-0a1b2c3d4e5f60718'}),
    read=ev('DescribeInternetGateways', {'internetGatewayIdSet': {'items': [{'internetGatewayId': 'igw-0a1b2c3d4e5f60718'}]}})))
A(C('ec2.subnet_public_ip_on_launch', 'network_exposure', 'Subnet assigns public IP addresses on launch', 'AWS::EC2::Subnet', NX, ['SC-7'], severity='medium',
    config=[dict(when=[w('configuration.mapPublicIpOnLaunch', equals=True)])], config_case={'subnetId': 'subnet-0a1b2c3d4e5f60718', 'mapPublicIpOnLaunch': True}, config_neg={'subnetId': 'subnet-0a1b2c3d4e5f60718', 'mapPublicIpOnLaunch': False},
    tf=[dict(type='aws_subnet', when=[w('map_public_ip_on_launch', equals=True)])],
    calls=[call(EC2, ['ModifySubnetAttribute'], '{requestParameters.subnetId}', when=[w('requestParameters.mapPublicIpOnLaunch.value', equals=True)])],
    case=ev('ModifySubnetAttribute', {'subnetId': 'subnet-0a1b2c3d4e5f60718', 'mapPublicIpOnLaunch': {'value': True}}),
    neg=ev('ModifySubnetAttribute', {'subnetId': 'subnet-0a1b2c3d4e5f60718', 'mapPublicIpOnLaunch': {'value': False}}),
    read=ev('DescribeSubnets', {'subnetSet': {'items': [{'subnetId': 'subnet-0a1b2c3d4e5f60718'}]}})))
A(C('ec2.instance_public_ip', 'network_exposure', 'Elastic IP associated with an instance', 'AWS::EC2::Instance', NX, ['SC-7'], severity='low',
    calls=[call(EC2, ['AssociateAddress'], '{requestParameters.instanceId}', when=[w('requestParameters.instanceId', present=True)])],
    case=ev('AssociateAddress', {'instanceId': 'i-0a1b2c3d4e5f60718', 'allocationId': 'eipalloc-0a1b2c3d4e5f60718'}),
    neg=ev('DisassociateAddress', {'associationId': 'eipassoc-0a1b2c3d4e5f60718'}),
    read=ev('DescribeAddresses', {})))

# ------------------------------------------------------------------ detection_disabled
DX = ['164.308(a)(1)(ii)(D)', '164.308(a)(6)(ii)']
GD = 'guardduty.amazonaws.com'
A(C('guardduty.detector_deleted', 'detection_disabled', 'GuardDuty detector deleted', 'AWS::GuardDuty::Detector', DX, ['SI-4', 'IR-4'], ['4.15'], 'high',
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'Id': '12abc34d567e8fa901bc2d34e56789f0', 'Enable': True},
    calls=[call(GD, ['DeleteDetector'], '{requestParameters.detectorId}')],
    case=ev('DeleteDetector', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0'}),
    neg=ev('CreateDetector', {'enable': True, 'findingPublishingFrequency': 'FIFTEEN_MINUTES'}),
    read=ev('GetDetector', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0'})))
A(C('guardduty.detector_disabled', 'detection_disabled', 'GuardDuty detector disabled', 'AWS::GuardDuty::Detector', DX, ['SI-4'], severity='high',
    tf=[dict(type='aws_guardduty_detector', when=[w('enable', equals=False)])],
    config=[dict(when=[w('configuration.Enable', equals=False)])], config_case={'Id': '12abc34d567e8fa901bc2d34e56789f0', 'Enable': False, 'FindingPublishingFrequency': 'FIFTEEN_MINUTES'}, config_neg={'Id': '12abc34d567e8fa901bc2d34e56789f0', 'Enable': True, 'FindingPublishingFrequency': 'FIFTEEN_MINUTES'},
    calls=[call(GD, ['UpdateDetector'], '{requestParameters.detectorId}', when=[w('requestParameters.enable', equals=False)])],
    case=ev('UpdateDetector', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0', 'enable': False}),
    neg=ev('UpdateDetector', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0', 'enable': True}),
    read=ev('GetDetector', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0'})))
A(C('guardduty.publishing_cut', 'detection_disabled', 'GuardDuty findings export removed', 'AWS::GuardDuty::Detector', DX, ['SI-4', 'AU-6'],
    calls=[call(GD, ['DeletePublishingDestination'], '{requestParameters.detectorId}')],
    case=ev('DeletePublishingDestination', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0', 'destinationId': 'a1b2c3d4e5f60718'}),
    neg=ev('CreatePublishingDestination', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0', 'destinationType': 'S3'}),
    read=ev('ListPublishingDestinations', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0'})))
A(C('guardduty.suppression_filter', 'detection_disabled', 'GuardDuty filter archives findings automatically', 'AWS::GuardDuty::Filter', DX, ['SI-4'],
    config=[dict(when=[w('configuration.Action', equals='ARCHIVE')])], config_case={'Name': 'quiet', 'Action': 'ARCHIVE', 'DetectorId': '12abc34d567e8fa901bc2d34e56789f0'}, config_neg={'Name': 'triage', 'Action': 'NOOP', 'DetectorId': '12abc34d567e8fa901bc2d34e56789f0'},
    tf=[dict(type='aws_guardduty_filter', when=[w('action', equals='ARCHIVE')], id_attr='detector_id')],
    calls=[call(GD, ['CreateFilter', 'UpdateFilter'], '{requestParameters.detectorId}', when=[w('requestParameters.action', equals='ARCHIVE')])],
    case=ev('CreateFilter', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0', 'name': 'quiet', 'action': 'ARCHIVE', 'findingCriteria': {'criterion': {'severity': {'gte': 1}}}}),
    neg=ev('CreateFilter', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0', 'name': 'triage', 'action': 'NOOP', 'findingCriteria': {'criterion': {'severity': {'gte': 7}}}}),
    read=ev('ListFilters', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0'})))
A(C('guardduty.member_removed', 'detection_disabled', 'GuardDuty member account disassociated', 'AWS::GuardDuty::Detector', DX, ['SI-4'],
    calls=[call(GD, ['DisassociateMembers', 'DeleteMembers', 'DisassociateFromMasterAccount', 'DisassociateFromAdministratorAccount'], '{requestParameters.detectorId}')],
    case=ev('DisassociateFromAdministratorAccount', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0'}),
    neg=ev('AcceptAdministratorInvitation', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0', 'administratorId': '210987654321', 'invitationId': 'inv-1'}),
    read=ev('GetAdministratorAccount', {'detectorId': '12abc34d567e8fa901bc2d34e56789f0'})))
SH = 'securityhub.amazonaws.com'
A(C('securityhub.disabled', 'detection_disabled', 'Security Hub disabled', 'AWS::SecurityHub::Hub', DX, ['SI-4', 'CA-7'], ['4.16'], 'high',
    calls=[call(SH, ['DisableSecurityHub'], '{account}')],
    case=ev('DisableSecurityHub', {}),
    neg=ev('EnableSecurityHub', {'enableDefaultStandards': True}),
    read=ev('DescribeHub', {})))
A(C('securityhub.standards_disabled', 'detection_disabled', 'Security Hub standards or controls disabled', 'AWS::SecurityHub::Hub', DX, ['CA-7'],
    calls=[call(SH, ['BatchDisableStandards'], '{account}'),
           call(SH, ['UpdateStandardsControl'], '{account}', when=[w('requestParameters.controlStatus', equals='DISABLED')]),
           call(SH, ['DisableImportFindingsForProduct'], '{account}')],
    case=ev('BatchDisableStandards', {'standardsSubscriptionArns': ['arn:aws:securityhub:us-east-1:123456789012:subscription/aws-foundational-security-best-practices/v/1.0.0']}),
    neg=ev('UpdateStandardsControl', {'standardsControlArn': 'arn:aws:securityhub:us-east-1:123456789012:control/aws-foundational-security-best-practices/v/1.0.0/S3.1', 'controlStatus': 'ENABLED'}),
    read=ev('GetEnabledStandards', {})))
MC = 'macie2.amazonaws.com'
A(C('macie.disabled', 'detection_disabled', 'Macie disabled or paused', 'AWS::Macie::Session', DX, ['SI-4', 'RA-5'], severity='high',
    tf=[dict(type='aws_macie2_account', when=[w('status', equals='PAUSED')])],
    calls=[call(MC, ['DisableMacie'], '{account}'), call(MC, ['UpdateMacieSession'], '{account}', when=[w('requestParameters.status', equals='PAUSED')])],
    case=ev('UpdateMacieSession', {'status': 'PAUSED'}),
    neg=ev('UpdateMacieSession', {'status': 'ENABLED', 'findingPublishingFrequency': 'FIFTEEN_MINUTES'}),
    read=ev('GetMacieSession', {})))
A(C('accessanalyzer.deleted', 'detection_disabled', 'IAM Access Analyzer deleted', 'AWS::AccessAnalyzer::Analyzer', DX, ['AC-6', 'CA-7'], ['1.20'],
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'AnalyzerName': 'stmarys-account', 'Type': 'ACCOUNT'},
    calls=[call('access-analyzer.amazonaws.com', ['DeleteAnalyzer'], '{requestParameters.analyzerName}')],
    case=ev('DeleteAnalyzer', {'analyzerName': 'stmarys-account'}),
    neg=ev('CreateAnalyzer', {'analyzerName': 'stmarys-account', 'type': 'ACCOUNT'}),
    read=ev('GetAnalyzer', {'analyzerName': 'stmarys-account'})))
WAF = 'wafv2.amazonaws.com'
A(C('waf.web_acl_disassociated', 'detection_disabled', 'WAF web ACL disassociated or deleted', 'AWS::WAFv2::WebACL', DX, ['SC-7', 'SI-4'],
    calls=[call(WAF, ['DisassociateWebACL'], '{requestParameters.resourceArn}'), call(WAF, ['DeleteWebACL'], '{requestParameters.name}')],
    case=ev('DisassociateWebACL', {'resourceArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188'}),
    neg=ev('AssociateWebACL', {'webACLArn': 'arn:aws:wafv2:us-east-1:123456789012:regional/webacl/research/1a2b', 'resourceArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188'}),
    read=ev('GetWebACLForResource', {'resourceArn': 'arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/research-api/50dc6c495c0c9188'})))
A(C('inspector.disabled', 'detection_disabled', 'Amazon Inspector scanning disabled', 'AWS::Inspector2::Account', DX, ['RA-5', 'SI-2'],
    calls=[call('inspector2.amazonaws.com', ['Disable'], '{account}')],
    case=ev('Disable', {'resourceTypes': ['EC2', 'ECR', 'LAMBDA']}),
    neg=ev('Enable', {'resourceTypes': ['EC2', 'ECR', 'LAMBDA']}),
    read=ev('BatchGetAccountStatus', {})))
A(C('detective.graph_deleted', 'detection_disabled', 'Amazon Detective behavior graph deleted', 'AWS::Detective::Graph', DX, ['IR-4', 'SI-4'], severity='medium',
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'Arn': 'arn:aws:detective:us-east-1:123456789012:graph:027c7c4610ea4aacaf0b883093cab899'},
    calls=[call('detective.amazonaws.com', ['DeleteGraph'], '{requestParameters.GraphArn|arn_name}')],
    case=ev('DeleteGraph', {'GraphArn': 'arn:aws:detective:us-east-1:123456789012:graph:027c7c4610ea4aacaf0b883093cab899'}),
    neg=ev('CreateGraph', {}),
    read=ev('ListGraphs', {})))
A(C('cloudwatch.alarms_silenced', 'detection_disabled', 'CloudWatch alarm deleted or its actions disabled', 'AWS::CloudWatch::Alarm', DX, ['SI-4', 'AU-6'], severity='medium',
    config=[dict(when=[w('configuration.actionsEnabled', equals=False)]), dict(deleted=True)], config_case={'alarmName': 'research-root-login', 'actionsEnabled': False}, config_neg={'alarmName': 'research-root-login', 'actionsEnabled': True},
    tf=[dict(type='aws_cloudwatch_metric_alarm', when=[w('actions_enabled', equals=False)], id_attr='alarm_name')],
    calls=[call('monitoring.amazonaws.com', ['DeleteAlarms', 'DisableAlarmActions'], '{requestParameters.alarmNames[0]}')],
    case=ev('DisableAlarmActions', {'alarmNames': ['research-root-login']}),
    neg=ev('EnableAlarmActions', {'alarmNames': ['research-root-login']}),
    read=ev('DescribeAlarms', {'alarmNames': ['research-root-login']})))
A(C('config.rule_deleted', 'detection_disabled', 'AWS Config rule deleted', 'AWS::Config::ConfigRule', DX, ['CA-7', 'CM-6'], severity='medium',
    config=[dict(deleted=True)], config_case=('deleted', None), config_neg={'ConfigRuleName': 's3-bucket-public-read-prohibited'},
    calls=[call(CFG, ['DeleteConfigRule'], '{requestParameters.configRuleName}')],
    case=ev('DeleteConfigRule', {'configRuleName': 's3-bucket-public-read-prohibited'}),
    neg=ev('PutConfigRule', {'configRule': {'configRuleName': 's3-bucket-public-read-prohibited', 'source': {'owner': 'AWS', 'sourceIdentifier': 'S3_BUCKET_PUBLIC_READ_PROHIBITED'}}}),
    read=ev('DescribeConfigRules', {'configRuleNames': ['s3-bucket-public-read-prohibited']})))

# ------------------------------------------------------------------ identity_risk
IX = ['164.312(a)(1)', '164.308(a)(4)(ii)(C)']
IAM = 'iam.amazonaws.com'
ADMIN = 'arn:aws:iam::aws:policy/AdministratorAccess'
A(C('iam.admin_policy_attached', 'identity_risk', 'Administrator policy attached', 'AWS::IAM::Role', IX, ['AC-6', 'AC-2'], ['1.16'], 'high',
    config=[dict(when=[w('configuration.attachedManagedPolicies.policyArn', equals='arn:aws:iam::aws:policy/AdministratorAccess')])], config_case={'roleName': 'research-analyst', 'attachedManagedPolicies': [{'policyName': 'AdministratorAccess', 'policyArn': 'arn:aws:iam::aws:policy/AdministratorAccess'}]}, config_neg={'roleName': 'research-analyst', 'attachedManagedPolicies': [{'policyName': 'ReadOnlyAccess', 'policyArn': 'arn:aws:iam::aws:policy/ReadOnlyAccess'}]},
    tf=[dict(type='aws_iam_role_policy_attachment', when=[w('policy_arn', equals=ADMIN)], id_attr='role')],
    calls=[call(IAM, ['AttachRolePolicy'], '{requestParameters.roleName}', when=[w('requestParameters.policyArn', equals=ADMIN)])],
    case=ev('AttachRolePolicy', {'roleName': 'research-analyst', 'policyArn': ADMIN}, source='aws.iam'),
    neg=ev('AttachRolePolicy', {'roleName': 'research-analyst', 'policyArn': 'arn:aws:iam::aws:policy/ReadOnlyAccess'}, source='aws.iam'),
    read=ev('ListAttachedRolePolicies', {'roleName': 'research-analyst'}, source='aws.iam')))
A(C('iam.admin_policy_attached_user', 'identity_risk', 'Administrator policy attached to a user', 'AWS::IAM::User', IX, ['AC-6', 'AC-2'], ['1.15', '1.16'], 'high',
    config=[dict(when=[w('configuration.attachedManagedPolicies.policyArn', equals='arn:aws:iam::aws:policy/AdministratorAccess')])], config_case={'userName': 'contractor-kim', 'attachedManagedPolicies': [{'policyName': 'AdministratorAccess', 'policyArn': 'arn:aws:iam::aws:policy/AdministratorAccess'}]}, config_neg={'userName': 'contractor-kim', 'attachedManagedPolicies': []},
    tf=[dict(type='aws_iam_user_policy_attachment', when=[w('policy_arn', equals=ADMIN)], id_attr='user')],
    calls=[call(IAM, ['AttachUserPolicy'], '{requestParameters.userName}', when=[w('requestParameters.policyArn', equals=ADMIN)])],
    case=ev('AttachUserPolicy', {'userName': 'contractor-kim', 'policyArn': ADMIN}, source='aws.iam'),
    neg=ev('AttachUserPolicy', {'userName': 'contractor-kim', 'policyArn': 'arn:aws:iam::aws:policy/ReadOnlyAccess'}, source='aws.iam'),
    read=ev('ListAttachedUserPolicies', {'userName': 'contractor-kim'}, source='aws.iam')))
A(C('iam.admin_policy_attached_group', 'identity_risk', 'Administrator policy attached to a group', 'AWS::IAM::Group', IX, ['AC-6', 'AC-2'], ['1.16'], 'high',
    config=[dict(when=[w('configuration.attachedManagedPolicies.policyArn', equals='arn:aws:iam::aws:policy/AdministratorAccess')])], config_case={'groupName': 'research', 'attachedManagedPolicies': [{'policyName': 'AdministratorAccess', 'policyArn': 'arn:aws:iam::aws:policy/AdministratorAccess'}]}, config_neg={'groupName': 'research', 'attachedManagedPolicies': []},
    tf=[dict(type='aws_iam_group_policy_attachment', when=[w('policy_arn', equals=ADMIN)], id_attr='group')],
    calls=[call(IAM, ['AttachGroupPolicy'], '{requestParameters.groupName}', when=[w('requestParameters.policyArn', equals=ADMIN)])],
    case=ev('AttachGroupPolicy', {'groupName': 'research', 'policyArn': ADMIN}, source='aws.iam'),
    neg=ev('AttachGroupPolicy', {'groupName': 'research', 'policyArn': 'arn:aws:iam::aws:policy/ReadOnlyAccess'}, source='aws.iam'),
    read=ev('ListAttachedGroupPolicies', {'groupName': 'research'}, source='aws.iam')))
A(C('iam.inline_admin_policy', 'identity_risk', 'Inline policy allows every action on every resource', 'AWS::IAM::Role', IX, ['AC-6'], ['1.16'], 'high',
    tf=[dict(type='aws_iam_role_policy', when=[w('policy', admin_policy=True)], id_attr='role')],
    calls=[call(IAM, ['PutRolePolicy'], '{requestParameters.roleName}', when=[w('requestParameters.policyDocument', admin_policy=True)]),
           call(IAM, ['PutUserPolicy'], '{requestParameters.userName}', when=[w('requestParameters.policyDocument', admin_policy=True)]),
           call(IAM, ['PutGroupPolicy'], '{requestParameters.groupName}', when=[w('requestParameters.policyDocument', admin_policy=True)]),
           call(IAM, ['CreatePolicyVersion'], '{requestParameters.policyArn|arn_name}', when=[w('requestParameters.policyDocument', admin_policy=True)])],
    case=ev('PutRolePolicy', {'roleName': 'research-analyst', 'policyName': 'everything', 'policyDocument': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}'}, source='aws.iam'),
    neg=ev('PutRolePolicy', {'roleName': 'research-analyst', 'policyName': 'read', 'policyDocument': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::stmarys-research-exports/*"}]}'}, source='aws.iam'),
    read=ev('GetRolePolicy', {'roleName': 'research-analyst', 'policyName': 'everything'}, source='aws.iam')))
A(C('iam.trust_opened', 'identity_risk', 'Role trust opened to another account or to anyone', 'AWS::IAM::Role', IX, ['AC-3', 'AC-6'], severity='critical',
    tf=[dict(type='aws_iam_role', when=[w('assume_role_policy', principal_outside=True)])],
    calls=[call(IAM, ['UpdateAssumeRolePolicy'], '{requestParameters.roleName}', when=[w('requestParameters.policyDocument', principal_outside=True)]),
           call(IAM, ['CreateRole'], '{requestParameters.roleName}', when=[w('requestParameters.assumeRolePolicyDocument', principal_outside=True)])],
    case=ev('UpdateAssumeRolePolicy', {'roleName': 'research-analyst', 'policyDocument': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole"}]}'}, source='aws.iam'),
    neg=ev('UpdateAssumeRolePolicy', {'roleName': 'research-analyst', 'policyDocument': '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::444455556666:root"},"Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"x"}}}]}'}, source='aws.iam'),
    read=ev('GetRole', {'roleName': 'research-analyst'}, source='aws.iam')))
A(C('iam.login_profile_changed', 'identity_risk', 'Console password created or changed for a user', 'AWS::IAM::User', IX, ['IA-2', 'IA-5'], severity='medium',
    tf=[dict(type='aws_iam_user_login_profile', when=[w('user', present=True)], id_attr='user')],
    calls=[call(IAM, ['CreateLoginProfile', 'UpdateLoginProfile'], '{requestParameters.userName}', when=[w('requestParameters.userName', present=True)])],
    case=ev('CreateLoginProfile', {'userName': 'contractor-kim', 'passwordResetRequired': False}, source='aws.iam'),
    neg=ev('DeleteLoginProfile', {'userName': 'contractor-kim'}, source='aws.iam'),
    read=ev('GetLoginProfile', {'userName': 'contractor-kim'}, source='aws.iam')))
A(C('iam.mfa_deactivated', 'identity_risk', 'MFA device deactivated or deleted', 'AWS::IAM::User', IX, ['IA-2'], ['1.10'], 'high',
    calls=[call(IAM, ['DeactivateMFADevice'], '{requestParameters.userName}'), call(IAM, ['DeleteVirtualMFADevice'], '{requestParameters.serialNumber|arn_name}')],
    case=ev('DeactivateMFADevice', {'userName': 'contractor-kim', 'serialNumber': 'arn:aws:iam::123456789012:mfa/contractor-kim'}, source='aws.iam'),
    neg=ev('EnableMFADevice', {'userName': 'contractor-kim', 'serialNumber': 'arn:aws:iam::123456789012:mfa/contractor-kim'}, source='aws.iam'),
    read=ev('ListMFADevices', {'userName': 'contractor-kim'}, source='aws.iam')))
A(C('iam.access_key_for_another_user', 'identity_risk', 'Access key created for a named user', 'AWS::IAM::User', IX, ['IA-5', 'AC-2'], ['1.11'],
    tf=[dict(type='aws_iam_access_key', when=[w('user', present=True)], id_attr='user')],
    calls=[call(IAM, ['CreateAccessKey'], '{requestParameters.userName}', when=[w('requestParameters.userName', present=True)])],
    case=ev('CreateAccessKey', {'userName': 'contractor-kim'}, {'accessKey': {'userName': 'contractor-kim', 'accessKeyId': 'AKIAR7E5EXAMPLEKEY01', 'status': 'Active'}}, source='aws.iam'),
    neg=ev('UpdateAccessKey', {'userName': 'contractor-kim', 'accessKeyId': 'AKIAR7E5EXAMPLEKEY01', 'status': 'Inactive'}, source='aws.iam'),
    read=ev('ListAccessKeys', {'userName': 'contractor-kim'}, source='aws.iam')))
A(C('iam.password_policy_weakened', 'identity_risk', 'Account password policy weakened or deleted', 'AWS::IAM::AccountPasswordPolicy', IX, ['IA-5'], ['1.8'],
    tf=[dict(type='aws_iam_account_password_policy', when=[w('require_symbols', equals=False)]), dict(type='aws_iam_account_password_policy', when=[w('require_numbers', equals=False)]), dict(type='aws_iam_account_password_policy', when=[w('require_uppercase_characters', equals=False)]), dict(type='aws_iam_account_password_policy', when=[w('require_lowercase_characters', equals=False)])],
    # (minimumPasswordLength is digested by redaction, being a password setting: the
    # character classes and reuse are read instead.)
    calls=[call(IAM, ['UpdateAccountPasswordPolicy'], '{account}', when=[w('requestParameters.' + k, equals=False)])
           for k in ['requireSymbols', 'requireNumbers', 'requireUppercaseCharacters', 'requireLowercaseCharacters']]
          + [call(IAM, ['DeleteAccountPasswordPolicy'], '{account}')],
    case=ev('UpdateAccountPasswordPolicy', {'minimumPasswordLength': 8, 'requireSymbols': False, 'requireNumbers': True, 'requireUppercaseCharacters': True, 'requireLowercaseCharacters': True}, source='aws.iam'),
    neg=ev('UpdateAccountPasswordPolicy', {'minimumPasswordLength': 16, 'requireSymbols': True, 'requireNumbers': True, 'requireUppercaseCharacters': True, 'requireLowercaseCharacters': True}, source='aws.iam'),
    read=ev('GetAccountPasswordPolicy', {}, source='aws.iam')))
A(C('iam.root_activity', 'identity_risk', 'The root user was used', 'AWS::Account', IX, ['AC-6', 'AC-2'], ['1.7'], 'critical',
    calls=[call('*', ['*'], '{account}', root=True)],
    case=ev('PutBucketTagging', {'bucketName': 'stmarys-research-exports', 'tagging': '', 'Tagging': {'TagSet': {'Tag': {'Key': 'owner', 'Value': 'research'}}}}, identity='root', source='aws.s3', extra={'eventSource': 's3.amazonaws.com'}),
    neg=ev('PutBucketTagging', {'bucketName': 'stmarys-research-exports', 'tagging': '', 'Tagging': {'TagSet': {'Tag': {'Key': 'owner', 'Value': 'research'}}}}, source='aws.s3', extra={'eventSource': 's3.amazonaws.com'}),
    read=ev('ListBuckets', {}, identity='root', source='aws.s3', extra={'eventSource': 's3.amazonaws.com'})))
A(C('iam.root_access_key', 'identity_risk', 'Root access key created', 'AWS::Account', IX, ['AC-6', 'IA-5'], ['1.4'], 'critical',
    calls=[call(IAM, ['CreateAccessKey'], '{account}', when=[w('userIdentity.type', equals='Root')])],
    case=ev('CreateAccessKey', {}, {'accessKey': {'accessKeyId': 'AKIAR7E5EXAMPLEROOT1', 'status': 'Active'}}, identity='root', source='aws.iam'),
    neg=ev('CreateAccessKey', {}, {'accessKey': {'userName': 'raj.patel', 'accessKeyId': 'AKIAR7E5EXAMPLEKEY02', 'status': 'Active'}}, source='aws.iam'),
    read=ev('ListAccessKeys', {}, identity='root', source='aws.iam')))
A(C('signin.console_without_mfa', 'identity_risk', 'Console sign-in without MFA', 'AWS::Account', IX, ['IA-2'], ['1.10'], 'medium',
    calls=[call('signin.amazonaws.com', ['ConsoleLogin'], '{account}', when=[w('additionalEventData.MFAUsed', equals='No'), w('responseElements.ConsoleLogin', equals='Success')])],
    case=ev('ConsoleLogin', None, {'ConsoleLogin': 'Success'}, identity='iamuser', source='aws.signin', extra={'additionalEventData': {'LoginTo': 'https://console.aws.amazon.com/console/home', 'MobileVersion': 'No', 'MFAUsed': 'No'}}),
    neg=ev('ConsoleLogin', None, {'ConsoleLogin': 'Success'}, identity='iamuser', source='aws.signin', extra={'additionalEventData': {'LoginTo': 'https://console.aws.amazon.com/console/home', 'MobileVersion': 'No', 'MFAUsed': 'Yes'}}),
    read=ev('ListUsers', {}, source='aws.iam')))
