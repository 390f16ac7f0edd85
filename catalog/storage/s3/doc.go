// Package s3 is the S3-compatible backend of the storage seam: a storage.Bucket over one
// bucket and key prefix (`s3://bucket/prefix`) of AWS S3 or any server that speaks its
// API with conditional writes (the tests run on versitygw).
//
// How the seam's promises are kept on S3:
//   - Create buffers one part in memory (Config.PartSize, 8 MiB by default). An object
//     that fits in one part is a single PutObject at Commit; a larger one becomes a
//     multipart upload whose parts go up as they fill, and Commit completes it. Nothing
//     is visible at the key before Commit returns; Abort aborts the multipart upload, so
//     a failed put leaves no parts behind (besides what a crash leaves to the bucket's
//     lifecycle rule for incomplete uploads).
//   - Open reads with ranged GETs pinned to the ETag seen at Open (If-Match): an object
//     replaced under a reader is an error wrapping storage.ErrConflict, never a mix of
//     old and new bytes.
//   - WriteIf is PutObject with If-None-Match: * (create only) or If-Match: <ETag>. A
//     412 (and the 409 some servers send for a concurrent conditional write) is
//     storage.ErrConflict. Because the SDK retries a request whose answer was lost, a
//     conditional write can see 412 for its own earlier success; WriteIf then reads the
//     object back and reports success when the bytes there are exactly its own.
//   - List uses the delimiter "/" so sub-prefixes come back as directory entries.
//
// The client is aws-sdk-go-v2 (service/s3): it is the AWS reference client, it types
// every header this package depends on (IfMatch / IfNoneMatch on PutObject, GetObject
// and CompleteMultipartUpload), it takes credentials and region from the standard AWS
// environment variables and shared config files (AWS_ACCESS_KEY_ID, AWS_REGION,
// AWS_ENDPOINT_URL_S3, AWS_PROFILE, web identity, instance roles) through the same chain
// every other AWS tool uses, and its modules resolve here. minio-go would work too but
// keeps a credential chain and retry policy of its own.
//
// It is not a filesystem: there are no renames or appends, and it is not what DuckDB
// reads (its static build has no httpfs); the engine reads parts through
// catalog/partcache, which downloads them with this package.
package s3
