// deploy/kubernetes/verify-cronjob.yaml: a valid CronJob (upstream schemas,
// strict container fields) running `verify` hardened like the init container,
// with its scratch directory on an emptyDir and only variables the tool reads;
// its Job fails at once on a finding and retries an unavailable store.
// (test/e2e/helm.test.ts keeps it equal to the example chart's CronJob.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { envMap, parseManifests, podSpecOf, validateObject } from '../support/k8s.js';

const text = readFileSync(new URL('../../../deploy/kubernetes/verify-cronjob.yaml', import.meta.url), 'utf8');

test('verify-cronjob.yaml: a valid, hardened CronJob running verify on an emptyDir scratch directory', () => {
  const objects = parseManifests(text);
  assert.deepEqual(objects.map((o) => o.kind), ['CronJob']);
  const cronJob = objects[0]!;
  validateObject(cronJob);
  const spec = cronJob.spec as {
    concurrencyPolicy: string;
    jobTemplate: { spec: { backoffLimit: number; podFailurePolicy: { rules: Array<{ action: string; onExitCodes?: { values: number[] } }> }; template: { spec: { restartPolicy: string } } } };
  };
  assert.equal(spec.concurrencyPolicy, 'Forbid');
  const job = spec.jobTemplate.spec;
  assert.ok(job.backoffLimit >= 1, 'an unavailable store (75) is retried');
  const failFast = job.podFailurePolicy.rules.filter((r) => r.action === 'FailJob').flatMap((r) => r.onExitCodes?.values ?? []);
  assert.deepEqual(failFast.sort(), [65, 66, 69, 77, 78], 'a finding fails the Job at once');
  assert.ok(!failFast.includes(75));
  assert.equal(job.template.spec.restartPolicy, 'Never');

  const pod = podSpecOf(cronJob);
  assert.ok(pod);
  assert.equal(pod.automountServiceAccountToken, false);
  assert.equal(pod.securityContext?.runAsNonRoot, true);
  const [c, ...others] = pod.containers;
  assert.ok(c);
  assert.equal(others.length, 0);
  assert.deepEqual(c.args, ['verify']);
  assert.deepEqual(
    {
      readOnlyRootFilesystem: c.securityContext?.readOnlyRootFilesystem,
      runAsNonRoot: c.securityContext?.runAsNonRoot,
      allowPrivilegeEscalation: c.securityContext?.allowPrivilegeEscalation,
      drop: (c.securityContext?.capabilities as { drop: string[] }).drop,
    },
    { readOnlyRootFilesystem: true, runAsNonRoot: true, allowPrivilegeEscalation: false, drop: ['ALL'] },
  );

  const env = envMap(c);
  for (const name of Object.keys(env)) assert.ok((CONFIG_VARIABLES as readonly string[]).includes(name), `${name} is not a variable the tool reads`);
  assert.match(env.SQLITE_RESTORE_REPLICA_URL ?? '', /^s3:\/\//);
  const scratch = c.volumeMounts?.find((m) => m.mountPath === env.SQLITE_RESTORE_VERIFY_DIR);
  assert.ok(scratch, 'SQLITE_RESTORE_VERIFY_DIR is a mounted volume');
  assert.ok(pod.volumes?.find((v) => v.name === scratch.name && 'emptyDir' in v), 'the scratch volume is an emptyDir');
  assert.deepEqual(c.envFrom, [{ secretRef: { name: 'my-app-backup-verify', optional: true } }]);
});
