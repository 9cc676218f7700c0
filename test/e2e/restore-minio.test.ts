// Restoring from an S3 replica in MinIO written by the real Litestream v0.3.13
// reproduces the source database exactly; wrong credentials → 77, empty
// prefix → 66. The same tests run against Ceph RGW in restore-rgw.test.ts.
import { startMinio } from '../support/minio.js';
import { restoreSuite } from './restore-s3.js';

restoreSuite({ name: 'MinIO', start: startMinio });
