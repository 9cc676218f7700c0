// Offline checks of Kubernetes manifests: multi-document YAML parsed with
// `yaml`, each object validated with kubernetes-models (the upstream OpenAPI
// schemas compiled to validators), plus a strict check of container fields,
// which the OpenAPI schemas leave open (a misspelt or mis-indented key would
// otherwise pass and be dropped silently by the API server).
import { createRequire } from 'node:module';
import { parseAllDocuments } from 'yaml';

const require = createRequire(import.meta.url);

export interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string; optional?: boolean } };
}

export interface Container {
  name: string;
  image?: string;
  imagePullPolicy?: string;
  args?: string[];
  command?: string[];
  env?: EnvVar[];
  envFrom?: unknown[];
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean }>;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: Record<string, unknown>;
  restartPolicy?: string;
  terminationMessagePath?: string;
  terminationMessagePolicy?: string;
}

export interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: Record<string, unknown>;
  initContainers?: Container[];
  containers: Container[];
  volumes?: Array<{ name: string; [key: string]: unknown }>;
}

/** Every document of a multi-document YAML text (empty documents skipped). */
export function parseManifests(text: string): K8sObject[] {
  const out: K8sObject[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(`YAML error: ${doc.errors.map((e) => e.message).join('; ')}`);
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    if (typeof value !== 'object' || Array.isArray(value)) throw new Error(`not a Kubernetes object: ${JSON.stringify(value)}`);
    out.push(value as K8sObject);
  }
  return out;
}

const CONTAINER_FIELDS = new Set([
  'name', 'image', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'env', 'resources', 'resizePolicy',
  'restartPolicy', 'restartPolicyRules', 'volumeMounts', 'volumeDevices', 'livenessProbe', 'readinessProbe',
  'startupProbe', 'lifecycle', 'terminationMessagePath', 'terminationMessagePolicy', 'imagePullPolicy',
  'securityContext', 'stdin', 'stdinOnce', 'tty',
]);
const SECURITY_CONTEXT_FIELDS = new Set([
  'capabilities', 'privileged', 'seLinuxOptions', 'windowsOptions', 'runAsUser', 'runAsGroup', 'runAsNonRoot',
  'readOnlyRootFilesystem', 'allowPrivilegeEscalation', 'procMount', 'seccompProfile', 'appArmorProfile',
]);

function checkContainerFields(where: string, c: Record<string, unknown>): void {
  for (const key of Object.keys(c)) {
    if (!CONTAINER_FIELDS.has(key)) throw new Error(`${where}: unknown container field "${key}"`);
  }
  const sc = c.securityContext;
  if (sc && typeof sc === 'object') {
    for (const key of Object.keys(sc)) {
      if (!SECURITY_CONTEXT_FIELDS.has(key)) throw new Error(`${where}: unknown securityContext field "${key}"`);
    }
  }
}

/** The pod spec of a workload object (StatefulSet, Deployment, Job, Pod...), if it has one. */
export function podSpecOf(obj: K8sObject): PodSpec | undefined {
  const spec = obj.spec as Record<string, unknown> | undefined;
  if (!spec) return undefined;
  if (obj.kind === 'Pod') return spec as unknown as PodSpec;
  const template = spec.template as { spec?: PodSpec } | undefined;
  if (template?.spec) return template.spec;
  const jobTemplate = spec.jobTemplate as { spec?: { template?: { spec?: PodSpec } } } | undefined;
  return jobTemplate?.spec?.template?.spec;
}

/**
 * Validates one object against the OpenAPI schema of its apiVersion/kind
 * (throws with the schema's error messages) and its containers' fields.
 */
export function validateObject(obj: K8sObject): void {
  const where = `${obj.kind ?? '?'}/${obj.metadata?.name ?? '?'}`;
  if (!obj.apiVersion || !obj.kind) throw new Error(`${where}: apiVersion and kind are required`);
  const groupVersion = obj.apiVersion.includes('/') ? obj.apiVersion : `v1`;
  let Model: new (data: unknown) => { validate(): void };
  try {
    Model = (require(`kubernetes-models/${groupVersion}/${obj.kind}`) as Record<string, typeof Model>)[obj.kind]!;
  } catch (err) {
    throw new Error(`${where}: no schema for ${obj.apiVersion} ${obj.kind} (${(err as Error).message})`);
  }
  try {
    new Model(obj).validate();
  } catch (err) {
    throw new Error(`${where} does not match the Kubernetes schema: ${(err as Error).message}`);
  }
  const pod = podSpecOf(obj);
  if (pod) {
    for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
      checkContainerFields(`${where} container ${c.name}`, c as unknown as Record<string, unknown>);
    }
  }
}

/** Env entries as a name → value (or `secret:<name>/<key>`) map; duplicates are an error. */
export function envMap(c: Container): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of c.env ?? []) {
    if (e.name in out) throw new Error(`container ${c.name}: env ${e.name} appears twice`);
    const ref = e.valueFrom?.secretKeyRef;
    out[e.name] = ref ? `secret:${ref.name}/${ref.key}` : (e.value ?? '');
  }
  return out;
}
