// Dynamic provisioning for the test cluster, as kind's local-path provisioner
// gives kind clusters: a default StorageClass that waits for the first consumer,
// and a loop in the test process that answers every claim the scheduler has
// given a node with a `local` PersistentVolume on a fresh directory below the
// cluster's own directory, and deletes released volumes with their directories.
// `local` volumes (unlike hostPath) get the pod's fsGroup, so the chart's
// non-root pods can write.
//
// Why WaitForFirstConsumer: with Immediate binding the scheduler parks a
// StatefulSet's pod (created with its claim, so never bound yet) as
// unschedulable and relies on the claim's update event to retry it; a missed
// retry leaves the pod to the scheduler's periodic flush (one CI run: one of
// three pods installed side by side had only its first two FailedScheduling
// events after 240 s). With WaitForFirstConsumer the scheduler keeps the pod
// and waits for the claim in its bind step, polling: no event to miss.
import { chmod, mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { KubeApi } from './kube-api.js';

export const STORAGE_CLASS = 'local-dir';
const PROVISIONER = 'sqlite-s3-restore.test/local-dir';

// Set by the scheduler on a WaitForFirstConsumer claim once it has chosen the pod's node.
const SELECTED_NODE = 'volume.kubernetes.io/selected-node';

interface Claim {
  metadata: { name: string; namespace: string; uid: string; annotations?: Record<string, string> };
  spec: { storageClassName?: string; volumeName?: string; accessModes?: string[]; resources?: { requests?: { storage?: string } } };
  status?: { phase?: string };
}

interface Volume {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: { local?: { path: string } };
  status?: { phase?: string };
}

export class LocalVolumeProvisioner {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> = Promise.resolve();
  private lastError: string | undefined;
  /** Names of the volumes provisioned so far (for the test's report). */
  readonly provisioned: string[] = [];

  constructor(
    private readonly api: KubeApi,
    private readonly volumesDir: string,
  ) {}

  async start(intervalMs = 500): Promise<void> {
    await mkdir(this.volumesDir, { recursive: true });
    await this.api.create('/apis/storage.k8s.io/v1/storageclasses', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'StorageClass',
      metadata: { name: STORAGE_CLASS, annotations: { 'storageclass.kubernetes.io/is-default-class': 'true' } },
      provisioner: PROVISIONER,
      reclaimPolicy: 'Delete',
      volumeBindingMode: 'WaitForFirstConsumer',
    });
    this.timer = setInterval(() => {
      this.running = this.running.then(() => this.sync()).catch((err: Error) => {
        this.lastError = err.message;
      });
    }, intervalMs);
  }

  /** The last error of the loop, if any (shown when a claim never binds). */
  error(): string | undefined {
    return this.lastError;
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async sync(): Promise<void> {
    const claims = (await this.api.get<{ items: Claim[] }>('/api/v1/persistentvolumeclaims')).items;
    for (const c of claims) {
      if (c.status?.phase !== 'Pending' || c.spec.volumeName || c.spec.storageClassName !== STORAGE_CLASS) continue;
      const node = c.metadata.annotations?.[SELECTED_NODE];
      if (node) await this.provision(c, node);
    }
    const volumes = (await this.api.get<{ items: Volume[] }>('/api/v1/persistentvolumes')).items;
    for (const v of volumes) {
      if (v.metadata.annotations?.['pv.kubernetes.io/provisioned-by'] !== PROVISIONER) continue;
      if (v.status?.phase !== 'Released' && v.status?.phase !== 'Failed') continue;
      await this.api.delete(`/api/v1/persistentvolumes/${v.metadata.name}`);
      const dir = v.spec.local?.path;
      if (dir && path.dirname(dir) === this.volumesDir) await rm(dir, { recursive: true, force: true });
    }
  }

  private async provision(c: Claim, node: string): Promise<void> {
    const name = `pvc-${c.metadata.uid}`;
    const dir = path.join(this.volumesDir, name);
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o755);
    const r = await this.api.request('POST', '/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name, annotations: { 'pv.kubernetes.io/provisioned-by': PROVISIONER } },
      spec: {
        capacity: { storage: c.spec.resources?.requests?.storage ?? '1Gi' },
        accessModes: c.spec.accessModes ?? ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: 'Delete',
        storageClassName: STORAGE_CLASS,
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace: c.metadata.namespace, name: c.metadata.name, uid: c.metadata.uid },
        local: { path: dir },
        nodeAffinity: {
          required: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'kubernetes.io/hostname', operator: 'In', values: [node] }] }] },
        },
      },
    });
    // 409: made by an earlier pass, the binder has not caught up yet
    if (r.status === 409) return;
    if (r.status < 200 || r.status >= 300) throw new Error(`creating ${name}: HTTP ${r.status}: ${r.text}`);
    this.provisioned.push(`${c.metadata.namespace}/${c.metadata.name} -> ${name}`);
  }
}
