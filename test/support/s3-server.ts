// What every S3 server the end-to-end tests start (MinIO, Ceph RGW) provides:
// an endpoint on 127.0.0.1 with one set of credentials, and a way to stop it.
// Tests written against this interface run unchanged against either server.

/** Where an S3 service is and how to sign requests to it. */
export interface S3Endpoint {
  endpoint: string;
  accessKey: string;
  secretKey: string;
  region: string;
}

/** A running S3 server owned by one test file. */
export interface S3Server extends S3Endpoint {
  /** Stops every process of the server (by PID) and removes its data. */
  stop(): Promise<void>;
}

/** How a parameterised test file names and starts a server. */
export interface S3ServerKind {
  /** Human-readable name for test titles, e.g. "MinIO" or "Ceph RGW". */
  name: string;
  start(): Promise<S3Server>;
}
