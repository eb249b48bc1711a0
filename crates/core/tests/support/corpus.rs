//! A generated corpus of secret shapes (issue 13 item 2): one secret of each shape, from a
//! deterministic generator (no wall clock, no OS randomness). Used by the core suite's
//! `secret_corpus` and, through `#[path]`, by the Lambdas' moto test of it
//! (`tests/tests/secret_corpus_moto.rs`). Plain std: no crate of the workspace.
#![allow(dead_code)]

/// A small deterministic generator (no wall clock, no OS randomness).
pub struct Gen(pub u64);

impl Gen {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    fn pick(&mut self, alphabet: &str, n: usize) -> String {
        let a: Vec<char> = alphabet.chars().collect();
        (0..n).map(|_| a[(self.next() as usize) % a.len()]).collect()
    }
    fn alnum(&mut self, n: usize) -> String {
        self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", n)
    }
    fn upper(&mut self, n: usize) -> String {
        self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", n)
    }
    fn hex(&mut self, n: usize) -> String {
        self.pick("0123456789abcdef", n)
    }
    fn b64(&mut self, n: usize) -> String {
        self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", n)
    }
    fn b64url(&mut self, n: usize) -> String {
        self.pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", n)
    }
}

/// One secret of each shape (name, value), from the generator's stream.
pub fn corpus(g: &mut Gen) -> Vec<(&'static str, String)> {
    let uuid = |g: &mut Gen| format!("{}-{}-{}-{}-{}", g.hex(8), g.hex(4), g.hex(4), g.hex(4), g.hex(12));
    vec![
        ("aws access key id", format!("AKIA{}", g.upper(16))),
        ("aws temporary key id", format!("ASIA{}", g.upper(16))),
        ("aws secret access key", format!("{}/{}+{}", g.alnum(12), g.alnum(13), g.alnum(13))),
        ("github classic token", format!("ghp_{}", g.alnum(36))),
        ("github oauth token", format!("gho_{}", g.alnum(36))),
        ("github user-to-server token", format!("ghu_{}", g.alnum(36))),
        ("github server-to-server token", format!("ghs_{}", g.alnum(36))),
        ("github fine-grained token", format!("github_pat_{}_{}", g.alnum(22), g.alnum(59))),
        ("gitlab token", format!("glpat-{}", g.b64url(20))),
        ("slack bot token", format!("xoxb-{}-{}-{}", g.pick("0123456789", 12), g.pick("0123456789", 13), g.alnum(24))),
        (
            "slack user token",
            format!("xoxp-{}-{}-{}-{}", g.pick("0123456789", 12), g.pick("0123456789", 12), g.pick("0123456789", 13), g.hex(32)),
        ),
        ("slack app token", format!("xapp-1-{}-{}-{}", g.upper(11), g.pick("0123456789", 13), g.hex(64))),
        ("slack webhook", format!("https://hooks.slack.com/services/T{}/B{}/{}", g.upper(8), g.upper(10), g.alnum(24))),
        ("stripe secret key", format!("sk_live_{}", g.alnum(24))),
        ("stripe restricted key", format!("rk_live_{}", g.alnum(24))),
        ("stripe webhook secret", format!("whsec_{}", g.alnum(32))),
        ("google api key", format!("AIza{}", g.b64url(35))),
        ("google oauth token", format!("ya29.{}", g.b64url(60))),
        ("npm token", format!("npm_{}", g.alnum(36))),
        ("pypi token", format!("pypi-AgEIcHlwaS5vcmc{}", g.b64url(50))),
        ("sendgrid key", format!("SG.{}.{}", g.b64url(22), g.b64url(43))),
        ("twilio api key", format!("SK{}", g.hex(32))),
        ("shopify token", format!("shpat_{}", g.hex(32))),
        ("digitalocean token", format!("dop_v1_{}", g.hex(64))),
        ("square token", format!("sq0atp-{}", g.b64url(22))),
        ("vault token", format!("hvs.{}", g.alnum(24))),
        ("doppler token", format!("dp.st.prd.{}", g.alnum(40))),
        ("new relic key", format!("NRAK-{}", g.upper(27))),
        ("linear key", format!("lin_api_{}", g.alnum(40))),
        ("anthropic key", format!("sk-ant-api03-{}", g.b64url(90))),
        ("openai key", format!("sk-proj-{}", g.b64url(60))),
        ("atlassian token", format!("ATATT3x{}", g.b64url(60))),
        ("databricks token", format!("dapi{}", g.hex(32))),
        ("hubspot token", format!("pat-na1-{}", uuid(g))),
        ("terraform cloud token", format!("{}.atlasv1.{}", g.alnum(14), g.alnum(60))),
        ("grafana service account token", format!("glsa_{}_{}", g.alnum(32), g.hex(8))),
        ("sentry auth token", format!("sntrys_{}", g.b64url(60))),
        ("mailgun key", format!("key-{}", g.hex(32))),
        ("brevo key", format!("xkeysib-{}-{}", g.hex(64), g.alnum(16))),
        ("age secret key", format!("AGE-SECRET-KEY-1{}", g.upper(58))),
        ("jwt", format!("eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.{}.{}", g.b64url(60), g.b64url(43))),
        ("pem rsa private key", format!("-----BEGIN RSA PRIVATE KEY-----\n{}\n-----END RSA PRIVATE KEY-----", g.b64(64))),
        ("openssh private key", format!("-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n-----END OPENSSH PRIVATE KEY-----", g.b64(70))),
        ("pgp private key", format!("-----BEGIN PGP PRIVATE KEY BLOCK-----\n\n{}\n-----END PGP PRIVATE KEY BLOCK-----", g.b64(64))),
        ("postgres url", format!("postgres://ehr_app:{}@db.internal:5432/ehr", g.alnum(18))),
        ("mysql url", format!("mysql://admin:{}@mysql.internal/billing", g.alnum(16))),
        ("redis url", format!("redis://:{}@cache.internal:6379/0", g.alnum(20))),
        ("mongodb url", format!("mongodb+srv://svc:{}@cluster0.mongodb.net/phi", g.alnum(16))),
        ("amqp url", format!("amqps://queue:{}@mq.internal:5671/", g.alnum(16))),
        ("sentry dsn", format!("https://{}@o{}.ingest.sentry.io/{}", g.hex(32), g.pick("0123456789", 6), g.pick("0123456789", 7))),
        (
            "azure storage connection string",
            format!("DefaultEndpointsProtocol=https;AccountName=ehr;AccountKey={};EndpointSuffix=core.windows.net", g.b64(86)),
        ),
        ("azure sas url", format!("https://ehr.blob.core.windows.net/c?sv=2022-11-02&sp=r&sig={}", g.b64url(43))),
        ("discord webhook", format!("https://discord.com/api/webhooks/{}/{}", g.pick("0123456789", 18), g.b64url(68))),
        ("teams webhook", format!("https://acme.webhook.office.com/webhookb2/{}@{}/IncomingWebhook/{}", uuid(g), uuid(g), g.hex(32))),
        ("bearer header", format!("Bearer {}", g.b64url(40))),
        ("basic auth header", format!("Basic {}", g.b64(24))),
        // No shape of its own: caught where secrets hide (environment, tags), by not being plain.
        ("password with symbols", format!("{}!{}#{}$", g.alnum(5), g.alnum(4), g.alnum(5))),
        ("random alphanumeric", g.alnum(24)),
        ("hex api key", g.hex(32)),
        ("base64 key", format!("{}==", g.b64(42))),
        ("mixed password", format!("S3cr3t-{}-pa55word!", g.alnum(4))),
    ]
}

/// The secrets that have a shape of their own (detected anywhere, not only in opaque
/// containers).
pub fn shaped(name: &str) -> bool {
    !matches!(name, "password with symbols" | "random alphanumeric" | "hex api key" | "base64 key" | "mixed password")
}
