// The S3 restore tests of restore-minio.test.ts against a second, independent
// S3 implementation: Ceph RADOS Gateway (Debian's ceph 16.2, one monitor, one
// memstore OSD), with the backup written there by the real Litestream v0.3.13.
import { startRgw } from '../support/rgw.js';
import { restoreSuite } from './restore-s3.js';

restoreSuite({ name: 'Ceph RGW', start: startRgw });
