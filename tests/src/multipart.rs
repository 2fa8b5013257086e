//! Multipart uploads made by hand with [`Client`]: create, parts, complete, and the ETag S3
//! computes for the result.

use crate::client::{Client, Resp};
use crate::xml;
use md5::{Digest, Md5};

/// An upload in progress.
pub struct Upload<'c> {
    /// The client it was created with.
    pub client: &'c Client,
    /// Its bucket.
    pub bucket: String,
    /// Its key.
    pub key: String,
    /// The id the server gave it.
    pub id: String,
}

impl<'c> Upload<'c> {
    /// CreateMultipartUpload, which must succeed.
    pub async fn create(client: &'c Client, bucket: &str, key: &str) -> Upload<'c> {
        let resp = client
            .post(bucket, key)
            .flag("uploads")
            .send()
            .await
            .expect_status(200, "CreateMultipartUpload");
        let id = xml::value(&resp.text(), "UploadId").expect("an UploadId");
        Upload {
            client,
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            id,
        }
    }

    /// UploadPart as sent; the caller checks the answer.
    pub async fn try_part(&self, number: u32, body: &[u8]) -> Resp {
        self.client
            .put(&self.bucket, &self.key)
            .query("partNumber", &number.to_string())
            .query("uploadId", &self.id)
            .body(body.to_vec())
            .send()
            .await
    }

    /// UploadPart, which must succeed; returns the part's ETag.
    pub async fn part(&self, number: u32, body: &[u8]) -> String {
        let resp = self
            .try_part(number, body)
            .await
            .expect_status(200, "UploadPart");
        resp.header("etag").expect("a part ETag").to_owned()
    }

    /// CompleteMultipartUpload naming `parts` (number, ETag) in the order given.
    pub async fn try_complete(&self, parts: &[(u32, String)]) -> Resp {
        let mut doc = String::from("<CompleteMultipartUpload>");
        for (number, etag) in parts {
            doc.push_str(&format!(
                "<Part><PartNumber>{number}</PartNumber><ETag>{}</ETag></Part>",
                xml::escape(etag)
            ));
        }
        doc.push_str("</CompleteMultipartUpload>");
        self.client
            .post(&self.bucket, &self.key)
            .query("uploadId", &self.id)
            .body(doc)
            .send()
            .await
    }

    /// CompleteMultipartUpload, which must succeed; returns the object's ETag.
    pub async fn complete(&self, parts: &[(u32, String)]) -> String {
        let resp = self
            .try_complete(parts)
            .await
            .expect_status(200, "CompleteMultipartUpload");
        let text = resp.text();
        // moto names the root CompleteMultipartUploadResponse; S3 and Sealgate ...Result.
        assert!(text.contains("<CompleteMultipartUpload"), "{text}");
        xml::value(&text, "ETag")
            .map(|e| xml::unescape(&e))
            .expect("an ETag")
    }

    /// AbortMultipartUpload as sent.
    pub async fn abort(&self) -> Resp {
        self.client
            .delete(&self.bucket, &self.key)
            .query("uploadId", &self.id)
            .send()
            .await
    }
}

/// The ETag S3 gives an object completed from parts with these plaintexts.
pub fn multipart_etag(parts: &[&[u8]]) -> String {
    let mut all = Md5::new();
    for part in parts {
        all.update(Md5::digest(part));
    }
    format!("\"{}-{}\"", hex::encode(all.finalize()), parts.len())
}

/// Uploads `parts` as one multipart object (in reverse order, to show order does not matter)
/// and completes it; returns its ETag.
pub async fn upload_object(client: &Client, bucket: &str, key: &str, parts: &[&[u8]]) -> String {
    let upload = Upload::create(client, bucket, key).await;
    let mut etags = Vec::new();
    for (i, part) in parts.iter().enumerate().rev() {
        let number = i as u32 + 1;
        etags.push((number, upload.part(number, part).await));
    }
    etags.reverse();
    upload.complete(&etags).await
}
