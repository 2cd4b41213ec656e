//! The S3 store: aws-sdk-s3 with the SDK's default credential chain (env, shared config and
//! credentials files, profiles, SSO, IMDS). `--profile`, `--region`, `--endpoint-url` (or
//! AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) and `--no-sign-request` adjust it; an explicit endpoint
//! switches to path-style addressing, which S3-compatible servers expect.

use super::*;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::Client;

/// How to reach S3 (the same options as every AWS client).
pub type S3Options = crate::aws::AwsOpts;

impl S3Options {
    /// The endpoint in force: the flag, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL.
    pub fn effective_endpoint(&self) -> Option<String> {
        self.endpoint
            .clone()
            .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
            .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok())
            .filter(|e| !e.is_empty())
    }
}

#[derive(Clone)]
pub struct S3Store {
    client: Client,
    desc: String,
}

impl std::fmt::Debug for S3Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "S3Store({})", self.desc)
    }
}

impl S3Store {
    pub async fn connect(opts: &S3Options) -> S3Store {
        let endpoint = opts.effective_endpoint();
        let shared = crate::aws::sdk_config(&S3Options {
            endpoint: endpoint.clone(),
            ..opts.clone()
        })
        .await;
        let mut conf =
            aws_sdk_s3::config::Builder::from(&shared).force_path_style(endpoint.is_some());
        if shared.region().is_none() {
            // S3-compatible servers and public buckets work without a configured region
            conf = conf.region(aws_config::Region::new("us-east-1"));
        }
        let conf = conf.build();
        let region = conf.region().map(|r| r.to_string()).unwrap_or_default();
        let profile = opts.profile_label();
        let mut desc = format!("s3 · profile {profile} · {region}");
        if let Some(e) = &endpoint {
            desc.push_str(&format!(" · {e}"));
        }
        if opts.no_sign {
            desc.push_str(" · unsigned");
        }
        S3Store {
            client: Client::from_conf(conf),
            desc,
        }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The full-object checksum stored with an object (HEAD with checksum mode), the strongest
    /// first; `None` when it has none, or only a multipart upload's checksum of part checksums.
    pub async fn stored_checksum(
        &self,
        bucket: &str,
        key: &str,
    ) -> Result<Option<(super::checksum::Algo, String)>> {
        use super::checksum::Algo;
        let h = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
            .send()
            .await
            .map_err(|e| map_err(e, bucket, key))?;
        if h.checksum_type() == Some(&aws_sdk_s3::types::ChecksumType::Composite) {
            return Ok(None);
        }
        let found = [
            (Algo::Crc64Nvme, h.checksum_crc64_nvme()),
            (Algo::Sha256, h.checksum_sha256()),
            (Algo::Crc32c, h.checksum_crc32_c()),
            (Algo::Crc32, h.checksum_crc32()),
            (Algo::Sha1, h.checksum_sha1()),
        ]
        .into_iter()
        // `VALUE-PARTS` is a checksum of the parts' checksums, not of the bytes
        .find_map(|(a, v)| v.filter(|v| !v.contains('-')).map(|v| (a, v.to_string())));
        Ok(found)
    }

    async fn list_once(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: Option<String>,
        max_keys: usize,
        url_encoded: bool,
    ) -> std::result::Result<
        ListPage,
        SdkError<
            aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Error,
            aws_sdk_s3::config::http::HttpResponse,
        >,
    > {
        let mut req = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .max_keys(max_keys.clamp(1, 1000) as i32);
        if url_encoded {
            req = req.encoding_type(aws_sdk_s3::types::EncodingType::Url);
        }
        if delimiter {
            req = req.delimiter("/");
        }
        if let Some(t) = token {
            req = req.continuation_token(t);
        }
        let out = req.send().await?;
        let encoded =
            url_encoded && out.encoding_type() == Some(&aws_sdk_s3::types::EncodingType::Url);
        let key_of = |k: &str| {
            if encoded {
                url_decode(k)
            } else {
                k.to_string()
            }
        };
        let mut entries: Vec<Entry> = out
            .common_prefixes()
            .iter()
            .filter_map(|p| p.prefix())
            .map(|p| Entry::Prefix { prefix: key_of(p) })
            .collect();
        entries.extend(out.contents().iter().filter_map(|o| {
            Some(Entry::Object(ObjectMeta {
                key: key_of(o.key()?),
                size: o.size().unwrap_or(0).max(0) as u64,
                modified: o.last_modified().and_then(to_chrono),
                // some S3-compatible servers omit the ETag: it is optional here
                etag: etag(o.e_tag()),
                storage_class: o.storage_class().map(|c| c.as_str().to_string()),
            }))
        }));
        entries.sort_by(|a, b| a.key().cmp(b.key()));
        let next = if out.is_truncated().unwrap_or(false) {
            out.next_continuation_token().map(str::to_string)
        } else {
            None
        };
        Ok(ListPage { entries, next })
    }
}

/// An answer the SDK could not parse (as when a listing carries characters XML cannot hold).
/// Requests that carry a checksum of the bytes they send (the SDK then computes none of its own):
/// PutObject, UploadPart, CompleteMultipartUpload and a completed part have the same five setters,
/// and this trait lets one function set any of them.
pub trait ChecksumSetters: Sized {
    fn crc64_nvme(self, v: String) -> Self;
    fn crc32_c(self, v: String) -> Self;
    fn crc32(self, v: String) -> Self;
    fn sha256(self, v: String) -> Self;
    fn sha1(self, v: String) -> Self;
}

macro_rules! checksum_setters {
    ($t:ty) => {
        impl ChecksumSetters for $t {
            fn crc64_nvme(self, v: String) -> Self {
                self.checksum_crc64_nvme(v)
            }
            fn crc32_c(self, v: String) -> Self {
                self.checksum_crc32_c(v)
            }
            fn crc32(self, v: String) -> Self {
                self.checksum_crc32(v)
            }
            fn sha256(self, v: String) -> Self {
                self.checksum_sha256(v)
            }
            fn sha1(self, v: String) -> Self {
                self.checksum_sha1(v)
            }
        }
    };
}
checksum_setters!(aws_sdk_s3::operation::put_object::builders::PutObjectFluentBuilder);
checksum_setters!(aws_sdk_s3::operation::upload_part::builders::UploadPartFluentBuilder);
checksum_setters!(
    aws_sdk_s3::operation::complete_multipart_upload::builders::CompleteMultipartUploadFluentBuilder
);
checksum_setters!(aws_sdk_s3::types::builders::CompletedPartBuilder);

/// `req` carrying checksum `sum`.
pub fn with_checksum<R: ChecksumSetters>(req: R, sum: &super::checksum::Sum) -> R {
    use super::checksum::Algo;
    let v = sum.value.clone();
    match sum.algo {
        Algo::Crc64Nvme => req.crc64_nvme(v),
        Algo::Crc32c => req.crc32_c(v),
        Algo::Crc32 => req.crc32(v),
        Algo::Sha256 => req.sha256(v),
        Algo::Sha1 => req.sha1(v),
    }
}

/// An ETag as tandem keeps it, the same from every call (listings, HEAD, PUT, multipart
/// completion): without its quotes.
pub fn etag(e: Option<&str>) -> Option<String> {
    e.map(|t| t.trim_matches('"').to_string())
}

/// The SDK's name of an algorithm.
pub fn sdk_algo(a: super::checksum::Algo) -> aws_sdk_s3::types::ChecksumAlgorithm {
    use super::checksum::Algo;
    use aws_sdk_s3::types::ChecksumAlgorithm as C;
    match a {
        Algo::Crc64Nvme => C::Crc64Nvme,
        Algo::Crc32c => C::Crc32C,
        Algo::Crc32 => C::Crc32,
        Algo::Sha256 => C::Sha256,
        Algo::Sha1 => C::Sha1,
    }
}

fn is_parse_error<E: std::error::Error + 'static>(
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> bool {
    let mut cur: Option<&dyn std::error::Error> = Some(e);
    while let Some(c) = cur {
        if c.to_string().contains("XML parse error") || c.to_string().contains("non-XML character")
        {
            return true;
        }
        cur = c.source();
    }
    matches!(e, SdkError::ResponseError(_))
}

fn to_chrono(t: &aws_sdk_s3::primitives::DateTime) -> Option<DateTime<Utc>> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos())
}

/// One message for an SDK failure: what went wrong and, for credentials, what fixes it.
pub fn map_err<E>(
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    bucket: &str,
    key: &str,
) -> StoreError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let chain = {
        let mut s = String::new();
        let mut cur: Option<&dyn std::error::Error> = Some(&e);
        while let Some(c) = cur {
            s.push_str(&c.to_string());
            s.push_str(": ");
            cur = c.source();
        }
        s
    };
    let status = e.raw_response().map(|r| r.status().as_u16());
    let code = e.code().unwrap_or_default().to_string();
    let msg = e.message().unwrap_or_default().to_string();
    let loc = if key.is_empty() {
        bucket.to_string()
    } else {
        format!("{bucket}/{key}")
    };
    match (&e, code.as_str(), status) {
        (_, "NoSuchBucket", _) => StoreError::NoBucket(bucket.to_string()),
        (_, "NoSuchKey" | "NotFound", _) | (_, _, Some(404)) if !key.is_empty() => StoreError::NotFound { bucket: bucket.into(), key: key.into() },
        (_, _, Some(404)) => StoreError::NoBucket(bucket.to_string()),
        (_, "InvalidAccessKeyId" | "SignatureDoesNotMatch" | "ExpiredToken" | "TokenRefreshRequired" | "InvalidToken", _) => {
            StoreError::Credentials(format!("{code}: {msg} — check the profile's keys or renew the session (`aws sso login`), or pass --no-sign-request for a public bucket"))
        }
        (_, "AccessDenied" | "AllBucketsAccessDenied", _) | (_, _, Some(403)) => StoreError::Denied(format!("{loc}: {}", if msg.is_empty() { "access denied" } else { &msg })),
        (SdkError::ConstructionFailure(_), _, _) | (SdkError::DispatchFailure(_), _, _) if chain.to_lowercase().contains("credential") => StoreError::Credentials(
            "no AWS credentials found — set AWS_PROFILE or --profile, run `aws configure` or `aws sso login`, or pass --no-sign-request for a public bucket".into(),
        ),
        (SdkError::DispatchFailure(_) | SdkError::TimeoutError(_), _, _) => StoreError::Network(format!("{loc}: cannot reach S3 ({})", chain.trim_end_matches(": "))),
        (SdkError::ResponseError(_), _, _) => StoreError::Network(format!("{loc}: unreadable answer ({})", chain.trim_end_matches(": "))),
        _ => StoreError::Service { code: if code.is_empty() { status.map(|s| s.to_string()).unwrap_or_default() } else { code }, message: format!("{loc}: {}", if msg.is_empty() { chain.trim_end_matches(": ").to_string() } else { msg }) },
    }
}

/// Decode a key from an `encoding-type=url` listing: `+` is a space, `%XX` a byte (as botocore does).
pub fn url_decode(k: &str) -> String {
    let plus = k.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8_lossy()
        .into_owned()
}

#[async_trait]
impl ObjectStore for S3Store {
    fn describe(&self) -> String {
        self.desc.clone()
    }

    async fn list_buckets(&self) -> Result<Vec<BucketInfo>> {
        let out = self
            .client
            .list_buckets()
            .send()
            .await
            .map_err(|e| map_err(e, "", ""))?;
        Ok(out
            .buckets()
            .iter()
            .map(|b| BucketInfo {
                name: b.name().unwrap_or_default().to_string(),
                created: b.creation_date().and_then(to_chrono),
            })
            .collect())
    }

    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        delimiter: bool,
        token: Option<String>,
        max_keys: usize,
    ) -> Result<ListPage> {
        // Keys are asked for as they are. A key holding characters XML 1.0 cannot carry (control
        // characters) makes the answer unparseable: then the page is asked again url-encoded. Not
        // asking for encoding up front keeps servers that announce it but send raw keys correct.
        match self
            .list_once(bucket, prefix, delimiter, token.clone(), max_keys, false)
            .await
        {
            Err(e) if is_parse_error(&e) => self
                .list_once(bucket, prefix, delimiter, token, max_keys, true)
                .await
                .map_err(|e| map_err(e, bucket, "")),
            r => r.map_err(|e| map_err(e, bucket, "")),
        }
    }

    async fn head(&self, bucket: &str, key: &str) -> Result<ObjectMeta> {
        let out = self
            .client
            .head_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| map_err(e, bucket, key))?;
        Ok(ObjectMeta {
            key: key.to_string(),
            size: out.content_length().unwrap_or(0).max(0) as u64,
            modified: out.last_modified().and_then(to_chrono),
            etag: etag(out.e_tag()),
            storage_class: out.storage_class().map(|c| c.as_str().to_string()),
        })
    }

    async fn read_range_into(
        &self,
        bucket: &str,
        key: &str,
        range: Range<u64>,
        sink: &mut (dyn for<'a> FnMut(u64, &'a [u8]) -> std::io::Result<()> + Send),
    ) -> Result<u64> {
        if range.end <= range.start {
            return Ok(0);
        }
        let res = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(if range.end == u64::MAX {
                // to the end, however long
                format!("bytes={}-", range.start)
            } else {
                format!("bytes={}-{}", range.start, range.end - 1)
            })
            .send()
            .await;
        let mut out = match res {
            Ok(o) => o,
            // a range past the end of the object: nothing to read
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 416) => return Ok(0),
            Err(e) => return Err(map_err(e, bucket, key)),
        };
        // a server that ignores Range sends the whole object: skip to what was asked for
        let whole = out.content_range().is_none() && range.start > 0;
        let (mut at, want) = (if whole { 0 } else { range.start }, range.end);
        let mut given = 0u64;
        while let Some(chunk) = out
            .body
            .try_next()
            .await
            .map_err(|e| StoreError::Network(format!("{bucket}/{key}: {e}")))?
        {
            let (s, e) = (at, at + chunk.len() as u64);
            at = e;
            let (from, to) = (s.max(range.start), e.min(want));
            if from < to {
                let piece = &chunk[(from - s) as usize..(to - s) as usize];
                sink(from - range.start, piece).map_err(|e| StoreError::Io {
                    context: format!("{bucket}/{key}"),
                    source: e,
                })?;
                given += piece.len() as u64;
            }
            if at >= want {
                break;
            }
        }
        Ok(given)
    }

    async fn get_range(&self, bucket: &str, key: &str, range: Range<u64>) -> Result<Vec<u8>> {
        // the pieces joined: one copy, as the SDK's own collecting makes
        let mut v =
            Vec::with_capacity((range.end.saturating_sub(range.start)).min(8 << 20) as usize);
        self.read_range_into(bucket, key, range, &mut |_, piece| {
            v.extend_from_slice(piece);
            Ok(())
        })
        .await?;
        Ok(v)
    }

    async fn put(&self, bucket: &str, key: &str, data: Vec<u8>) -> Result<()> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .body(data.into())
            .send()
            .await
            .map_err(|e| map_err(e, bucket, key))?;
        Ok(())
    }

    async fn put_with(
        &self,
        bucket: &str,
        key: &str,
        data: bytes::Bytes,
        sum: &super::checksum::Sum,
    ) -> Result<Option<String>> {
        let out = with_checksum(self.client.put_object(), sum)
            .bucket(bucket)
            .key(key)
            .body(data.into())
            .send()
            .await
            .map_err(|e| map_err(e, bucket, key))?;
        Ok(etag(out.e_tag()))
    }

    async fn delete(&self, bucket: &str, keys: &[String]) -> Result<Vec<(String, StoreError)>> {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        let mut failed = Vec::new();
        // DeleteObjects takes at most 1,000 keys a request
        for chunk in keys.chunks(1000) {
            let objects = chunk
                .iter()
                .map(|k| ObjectIdentifier::builder().key(k).build())
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|e| StoreError::Network(e.to_string()))?;
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|e| StoreError::Network(e.to_string()))?;
            let out = self
                .client
                .delete_objects()
                .bucket(bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| map_err(e, bucket, &chunk[0]))?;
            for e in out.errors() {
                failed.push((
                    e.key().unwrap_or_default().to_string(),
                    StoreError::Service {
                        code: e.code().unwrap_or("Error").to_string(),
                        message: e.message().unwrap_or_default().to_string(),
                    },
                ));
            }
        }
        Ok(failed)
    }

    fn local_path(&self, _bucket: &str, _key: &str) -> Option<PathBuf> {
        None
    }

    fn as_s3(&self) -> Option<&S3Store> {
        Some(self)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn url_decoded_keys() {
        assert_eq!(
            super::url_decode("odd+key+%2B+plus%3Deq.txt"),
            "odd key + plus=eq.txt"
        );
        assert_eq!(super::url_decode("data/%1B%5B2Jx"), "data/\u{1b}[2Jx");
        assert_eq!(super::url_decode("%C3%BCn%C3%AF"), "ünï");
    }
}
