"""Media stores: files kept on the local disk, or in an S3-compatible bucket."""
